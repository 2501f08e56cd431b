"""Per-mention signals: sentiment, intent rules, rollup maths and the labelled-set evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from earshot.eval_signals import evaluate, format_report
from models.signals import INTENTS, Signals, SignalScorer, rollup, sentiment_label

FIXTURE = Path(__file__).parent / "fixtures" / "signals_labelled.jsonl"
COMPETITORS = ("Veeam", "Acronis", "Datto")

# Measured on the fixture with vaderSentiment 3.3.2: overall 87.1%, sentiment 75.0%, intents 97.2%.
# Floors sit a little below so a lexicon tweak is noticed without every small change failing the build.
ACCURACY_FLOOR = 0.85
SENTIMENT_FLOOR = 0.70
INTENT_FLOOR = 0.90


@pytest.fixture(scope="module")
def scorer() -> SignalScorer:
    return SignalScorer(COMPETITORS)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Restores are fast and the support team is wonderful.", "positive"),
        ("Terrible release, it wiped our settings and nobody answers tickets.", "negative"),
        ("The agent installs as a Windows service.", "neutral"),
        ("Honestly not bad at all for the money.", "positive"),  # negated negative
        ("The new console is not great.", "negative"),  # negated positive
        ("Another outage this morning.", "negative"),  # domain lexicon
    ],
)
def test_sentiment_label(scorer: SignalScorer, text: str, label: str) -> None:
    assert scorer.score(text).sentiment_label == label


@pytest.mark.parametrize(("compound", "label"), [(0.05, "positive"), (0.049, "neutral"), (-0.05, "negative")])
def test_sentiment_thresholds_are_vaders(compound: float, label: str) -> None:
    assert sentiment_label(compound) == label


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        # pain: explicit vocabulary, negation, and weak words gated by sentiment
        ("Migrating mailboxes has been a total nightmare.", "pain", True),
        ("The sync agent doesn't work on Windows 11.", "pain", True),
        ("We lost data when the NAS died.", "pain", True),
        ("We never had an outage with them.", "pain", False),
        ("Quick problem set for the certification exam, answers below.", "pain", False),
        ("Constant problems with the portal, it is awful.", "pain", True),
        # solution_request: asking for a product or vendor
        ("Looking for a backup tool that covers Google Workspace.", "solution_request", True),
        ("Any recommendations for software to track licences?", "solution_request", True),
        ("What do you use for RMM these days?", "solution_request", True),
        ("Alternatives to our current PSA?", "solution_request", True),
        ("Best password manager for a small team?", "solution_request", True),
        ("The best password manager is the one people use.", "solution_request", False),
        # advice_request: asking what to do
        ("How do I get a client to accept MFA?", "advice_request", True),
        ("Should I raise prices for legacy clients?", "advice_request", True),
        ("I should raise prices for legacy clients.", "advice_request", False),
        ("Starting my first MSP next month, any tips?", "advice_request", True),
        ("What would you do with a client who ignores patch windows?", "advice_request", True),
        # praise: endorsements, not negated, not in a negative text
        ("Love how easy the restore wizard is.", "praise", True),
        ("That tool saved us during the ransomware attack.", "praise", True),
        ("Highly recommend their support team.", "praise", True),
        ("Works great on our Hyper-V hosts.", "praise", True),
        ("I would not recommend them to anyone.", "praise", False),
        ("Great, another outage and support is useless.", "praise", False),
        # pricing: money talk
        ("The renewal price went up again.", "pricing", True),
        ("We pay $3 per user per month.", "pricing", True),
        ("Per-seat licensing kills us on shared desks.", "pricing", True),
        ("Any discount for nonprofits?", "pricing", True),
        ("The restore finished in three hours.", "pricing", False),
    ],
)
def test_intent_rules(scorer: SignalScorer, text: str, intent: str, expected: bool) -> None:
    assert (intent in scorer.score(text).intents) is expected, scorer.score(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We moved from Veeam last year.", True),
        ("VEEAM support called back.", True),
        ("Datto's appliance is end of life.", True),
        ("Comparing acronis and others.", True),
        ("Our veeamish homegrown scripts.", False),
        ("The Dattos of the world.", False),
        ("Nothing about vendors here.", False),
    ],
)
def test_competitor_word_boundaries(scorer: SignalScorer, text: str, expected: bool) -> None:
    assert ("competitor" in scorer.score(text).intents) is expected


def test_competitor_names_with_symbols_and_no_list() -> None:
    assert "competitor" in SignalScorer(["N-able", "C++"]).score("We tried N-able, then wrote C++ tools.").intents
    assert "competitor" not in SignalScorer().score("We moved from Veeam last year.").intents


def test_intents_sorted_and_known(scorer: SignalScorer) -> None:
    signals = scorer.score("Love Veeam, but is $5 per seat too expensive? Any alternatives to it?")
    assert signals.intents == tuple(sorted(signals.intents))
    assert set(signals.intents) <= set(INTENTS)
    assert {"competitor", "pricing", "solution_request"} <= set(signals.intents)


def test_score_many_matches_score(scorer: SignalScorer) -> None:
    texts = ["Works great.", "It broke again."]
    assert scorer.score_many(texts) == [scorer.score(t) for t in texts]


def test_rollup_maths() -> None:
    signals = [
        Signals(0.5, "positive", ("praise",)),
        Signals(-0.5, "negative", ("pain", "pricing")),
        Signals(0.0, "neutral", ("pricing",)),
        Signals(0.8, "positive", ()),
    ]
    result = rollup(signals)
    assert result["count"] == 4
    assert result["mean_sentiment"] == pytest.approx(0.2)
    assert result["sentiment_share"] == {"positive": 0.5, "negative": 0.25, "neutral": 0.25}
    assert result["intent_share"]["pricing"] == 0.5
    assert result["intent_share"]["pain"] == 0.25
    assert result["intent_share"]["competitor"] == 0.0
    assert set(result["intent_share"]) == set(INTENTS)


def test_rollup_empty() -> None:
    result = rollup([])
    assert result["count"] == 0
    assert result["mean_sentiment"] == 0.0
    assert all(v == 0.0 for v in result["intent_share"].values())


def test_evaluate_fixture_above_floor() -> None:
    result = evaluate(FIXTURE, COMPETITORS)
    assert result["n"] >= 120
    assert result["accuracy"] >= ACCURACY_FLOOR, format_report(result)
    assert result["sentiment_accuracy"] >= SENTIMENT_FLOOR, format_report(result)
    assert result["intent_accuracy"] >= INTENT_FLOOR, format_report(result)
    supports = {cls: row["support"] for cls, row in result["classes"].items()}
    assert all(supports[c] >= 10 for c in ("positive", "negative", "neutral", *INTENTS))
    assert "precision" in format_report(result)


def test_evaluate_counts_hits_and_precision(tmp_path: Path) -> None:
    corpus = tmp_path / "tiny.jsonl"
    corpus.write_text(
        '{"text": "Highly recommend them, works great.", "label": "praise"}\n'
        "\n"
        '{"text": "Highly recommend them, but the price is high.", "label": "pricing"}\n'
        '{"text": "The agent runs as a service.", "label": "neutral"}\n',
        encoding="utf-8",
    )
    result = evaluate(corpus)
    assert result["n"] == 3
    assert result["accuracy"] == 1.0
    praise = result["classes"]["praise"]
    assert (praise["support"], praise["predicted"], praise["precision"], praise["recall"]) == (1, 2, 0.5, 1.0)
    assert result["classes"]["competitor"]["precision"] is None  # nothing predicted: undefined, not 0


@pytest.mark.parametrize(
    "bad_line",
    ['{"text": "no label"}', "not json", '{"text": "x", "label": "angry"}', '["text", "label"]'],
)
def test_evaluate_bad_line_names_file_and_line(tmp_path: Path, bad_line: str) -> None:
    corpus = tmp_path / "bad.jsonl"
    corpus.write_text('{"text": "fine", "label": "neutral"}\n' + bad_line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        evaluate(corpus)
