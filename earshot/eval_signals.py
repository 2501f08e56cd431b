"""``earshot eval-signals``: how well per-mention signals match a hand-labelled corpus.

Reads ``{"text", "label"}`` JSON lines. A label is a sentiment (positive / negative / neutral), checked
against the predicted sentiment label, or an intent name, which is a hit when that intent is among the
predicted ones (a text can carry several intents, so other intents are not errors).

Per class: recall = hits / texts labelled with the class. Precision for a sentiment = of the
sentiment-labelled texts predicted with it, the share labelled with it; for an intent = of *all* texts
in the file predicted with it, the share labelled with it. Intent precision is therefore a lower bound:
a negative post that also voices pain counts against ``pain`` precision although the prediction is right.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.signals import INTENTS, SENTIMENT_LABELS, Signals, SignalScorer

CLASSES: tuple[str, ...] = (*SENTIMENT_LABELS, *INTENTS)


@dataclass(frozen=True)
class Example:
    line: int
    text: str
    label: str


def read_labelled(path: Path) -> list[Example]:
    """Labelled lines; a malformed one raises ValueError naming ``file:line`` so it can be fixed."""
    examples = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, label = row["text"], row["label"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: expected {{'text', 'label'}} JSON ({exc})") from None
        if not isinstance(text, str) or label not in CLASSES:
            raise ValueError(f"{path}:{number}: text must be a string and label one of {', '.join(CLASSES)}")
        examples.append(Example(number, text, label))
    if not examples:
        raise ValueError(f"{path}: no labelled lines")
    return examples


def _is_hit(example: Example, signals: Signals) -> bool:
    if example.label in SENTIMENT_LABELS:
        return signals.sentiment_label == example.label
    return example.label in signals.intents


def _predicted(cls: str, example: Example, signals: Signals) -> bool:
    """Whether ``cls`` counts as predicted for this text, for precision's denominator."""
    if cls in SENTIMENT_LABELS:
        return example.label in SENTIMENT_LABELS and signals.sentiment_label == cls
    return cls in signals.intents


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _per_class(examples: Sequence[Example], scored: Sequence[Signals]) -> dict[str, dict[str, Any]]:
    pairs = list(zip(examples, scored, strict=True))
    out = {}
    for cls in CLASSES:
        support = sum(e.label == cls for e, _ in pairs)
        predicted = [(e, s) for e, s in pairs if _predicted(cls, e, s)]
        true_pos = sum(e.label == cls for e, _ in predicted)
        hits = sum(e.label == cls and _is_hit(e, s) for e, s in pairs)
        out[cls] = {
            "support": support,
            "predicted": len(predicted),
            "precision": _ratio(true_pos, len(predicted)),
            "recall": _ratio(hits, support),
        }
    return out


def evaluate(path: Path | str, competitors: Sequence[str] = ()) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/support and the misses of the scorer on a labelled file."""
    examples = read_labelled(Path(path))
    scored = SignalScorer(competitors).score_many(e.text for e in examples)
    hits = [_is_hit(e, s) for e, s in zip(examples, scored, strict=True)]
    sentiment = [h for e, h in zip(examples, hits, strict=True) if e.label in SENTIMENT_LABELS]
    intent = [h for e, h in zip(examples, hits, strict=True) if e.label in INTENTS]
    return {
        "corpus": str(path),
        "n": len(examples),
        "accuracy": sum(hits) / len(hits),
        "sentiment_accuracy": _ratio(sum(sentiment), len(sentiment)),
        "intent_accuracy": _ratio(sum(intent), len(intent)),
        "classes": _per_class(examples, scored),
        "misses": [
            {
                "line": e.line,
                "label": e.label,
                "predicted_sentiment": s.sentiment_label,
                "predicted_intents": list(s.intents),
                "text": e.text,
            }
            for e, s, h in zip(examples, scored, hits, strict=True)
            if not h
        ],
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def format_report(result: dict[str, Any], show_misses: bool = True) -> str:
    """A plain-text table for a terminal or a closing note."""
    lines = [
        f"corpus: {result['corpus']}  texts: {result['n']}",
        f"accuracy: {_pct(result['accuracy'])}  (sentiment {_pct(result['sentiment_accuracy'])}, "
        f"intents {_pct(result['intent_accuracy'])})",
        "",
        f"{'class':<17} {'support':>7} {'predicted':>9} {'precision':>9} {'recall':>7}",
    ]
    for cls, row in result["classes"].items():
        lines.append(
            f"{cls:<17} {row['support']:>7} {row['predicted']:>9} {_pct(row['precision']):>9} {_pct(row['recall']):>7}"
        )
    if show_misses and result["misses"]:
        lines += ["", "misses (line, label -> predicted sentiment / intents):"]
        for m in result["misses"]:
            intents = ",".join(m["predicted_intents"]) or "-"
            lines.append(f"  {m['line']:>4} {m['label']} -> {m['predicted_sentiment']} / {intents}: {m['text'][:90]}")
    return "\n".join(lines)


def as_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=1)
