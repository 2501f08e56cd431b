"""Pure theme modelling: keywords and labels, quotes, stable identities (clustering: test_clustering.py)."""

from __future__ import annotations

import numpy as np
import pytest

from models.identity import match_themes, new_theme_id
from models.keywords import label_from_keywords, theme_keywords
from models.quotes import excerpt, representative

DOCS = {
    0: [
        "ransomware encrypted our backups",
        "immutable backups stopped the ransomware",
        "ransomware hit a client",
        "restore after ransomware took days",
    ],
    1: [
        "cyber insurance premium doubled",
        "insurance questionnaire asks about MFA",
        "our insurance premium went up",
        "underwriters want MFA before insurance renewal",
    ],
}


def test_keywords_are_distinctive_per_theme() -> None:
    keywords = theme_keywords(DOCS, top_n=5)
    assert keywords[0][0] == "ransomware"
    assert any("insurance" in k.split() for k in keywords[1][:2])
    assert not set(keywords[0]) & set(keywords[1])
    assert all("the" not in k.split() for ks in keywords.values() for k in ks)  # stop words dropped


def test_keywords_keep_the_casing_people_write() -> None:
    from models.keywords import as_written

    texts = ["Our MFA rollout", "mfa is hard", "MFA for SharePoint", "Microsoft 365 and sharepoint", "SharePoint"]
    assert as_written("mfa", texts) == "MFA"
    assert as_written("sharepoint", texts) == "SharePoint"
    assert as_written("microsoft 365", texts) == "Microsoft 365"
    assert as_written("absent", texts) == "absent"


def test_no_phrase_spans_a_stop_word() -> None:
    from models.keywords import terms_of

    assert terms_of("Underwriters want MFA before insurance renewal") == [
        "underwriters",
        "mfa",
        "insurance",
        "renewal",
        "insurance renewal",
    ]
    assert terms_of("Microsoft 365 backup for 365 days") == ["microsoft", "backup", "microsoft 365"]


def test_bigram_absorbs_its_unigrams() -> None:
    keywords = theme_keywords(
        {
            0: ["insurance premium rises", "insurance premium doubled", "premium insurance"],
            1: ["ransomware attack", "ransomware restore"],
        }
    )
    assert "insurance premium" in keywords[0]
    assert "premium" not in keywords[0]


@pytest.mark.parametrize(
    ("keywords", "label"),
    [
        (["ransomware", "immutable backups", "restore"], "Ransomware · immutable backups"),
        (["insurance premium"], "Insurance premium"),
        ([], "Unlabelled theme"),
    ],
)
def test_labels_are_short_phrases(keywords: list[str], label: str) -> None:
    assert label_from_keywords(keywords) == label


def test_quotes_are_central_and_spread_across_sources() -> None:
    similarity = np.array([0.99, 0.98, 0.97, 0.90, 0.80, 0.70])
    sources = ["a", "a", "a", "b", "c", "a"]
    assert representative(similarity, sources, n=4, max_per_source=2) == [0, 1, 3, 4]
    assert representative(similarity, ["a"] * 6, n=3, max_per_source=1) == [0, 1, 2]


def test_quotes_skip_near_duplicates_of_each_other() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.6, 0.8])
    vectors = np.stack([a, a * 0.999 + b * 0.001, b, a])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = np.array([0.99, 0.98, 0.70, 0.97])
    picked = representative(similarity, ["s1", "s2", "s3", "s4"], n=2, vectors=vectors)
    assert picked == [0, 2]  # 1 and 3 repeat 0
    assert representative(similarity, ["s1", "s2", "s3", "s4"], n=2) == [0, 1]  # without vectors: centrality only


def test_excerpt_cuts_at_a_word() -> None:
    assert excerpt("short text") == "short text"
    cut = excerpt("word " * 200, limit=50)
    assert cut.endswith(" …") and len(cut) <= 52 and "wor …" not in cut


def test_theme_ids_survive_a_rerun_and_new_themes_get_new_ids() -> None:
    rng = np.random.default_rng(0)
    old = {f"t_{i}": v / np.linalg.norm(v) for i, v in enumerate(rng.normal(size=(3, 16)))}
    drifted = np.stack([old["t_2"] + 0.05 * rng.normal(size=16), old["t_0"], rng.normal(size=16)])
    drifted /= np.linalg.norm(drifted, axis=1, keepdims=True)
    ids = match_themes(drifted, old, anchors=["m1", "m2", "m3"])
    assert ids[:2] == ["t_2", "t_0"]
    assert ids[2] == new_theme_id("m3") and ids[2] not in old
    assert match_themes(drifted, {}, anchors=["m1", "m2", "m3"]) == [new_theme_id(a) for a in ("m1", "m2", "m3")]


def test_one_old_theme_is_claimed_by_one_new_theme_only() -> None:
    v = np.array([1.0, 0.0])
    ids = match_themes(np.stack([v, v]), {"t_old": v}, anchors=["a", "b"])
    assert ids == ["t_old", new_theme_id("b")]
