"""`earshot eval-themes` on a small labelled corpus: figures, JSON output, cache, bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from earshot.cli import main

TOPICS = {
    "ransomware": [
        "ransomware encrypted every file share",
        "attackers demanded a ransom for our backups",
        "the ransomware note appeared on all computers",
        "we restored from immutable snapshots after ransomware",
    ],
    "insurance": [
        "cyber insurance premium went up again",
        "the underwriters sent a long security questionnaire",
        "our insurance renewal requires MFA everywhere",
        "the insurer asked about backup testing",
    ],
    "football": [
        "the match went to penalties last night",
        "our striker scored twice in the derby",
        "the goalkeeper saved a late penalty",
        "the league table is tight at the top",
    ],
}


def corpus(path: Path, per_topic: int = 24) -> Path:
    rng = random.Random(3)
    lines = []
    for label, seeds in TOPICS.items():
        for i in range(per_topic):
            text = f"{rng.choice(seeds)}, {rng.choice(['honestly', 'again', 'this week', 'for a client'])} ({i})"
            lines.append(json.dumps({"id": f"{label}-{i}", "text": text, "label": label}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reports_quality_stability_and_caches_embeddings(
    tmp_path: Path, earshot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = corpus(tmp_path / "topics.jsonl")
    assert main(["eval-themes", str(path), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["method"] == "earshot" and row["n"] == 72
    # each topic is built from four seed sentences, so finding the seed families is right: what matters
    # is that no theme mixes topics (homogeneity) and the labels are matched well (NMI)
    assert 3 <= row["themes"] <= 12 and row["homogeneity"] > 0.9 and row["nmi"] > 0.6
    assert 0 <= row["outlier_share"] < 0.3
    assert row["shuffled_ari"] == pytest.approx(1.0, abs=0.05)
    assert row["embed_seconds"] > 0
    assert main(["eval-themes", str(path), "--json", "--no-stability"]) == 0
    again = json.loads(capsys.readouterr().out)["rows"][0]
    assert again["embed_seconds"] == 0  # cached: repeated runs cost only clustering
    assert (again["nmi"], again["themes"]) == (row["nmi"], row["themes"])  # same input, same themes
    assert again["shuffled_ari"] is None
    assert main(["eval-themes", str(path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["corpus", "method", "n"] and table[1].split()[:3] == ["topics", "earshot", "72"]


def test_a_bad_corpus_is_named_with_its_line(
    tmp_path: Path, earshot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "fine", "label": "a"}\n{"id": 2, "text": "no label"}\n')
    assert main(["eval-themes", str(bad)]) == 2
    assert f"{bad}:2: expected" in capsys.readouterr().err
