"""Per-mention signals that marketing acts on: sentiment and intents, computed offline.

Sentiment is VADER's compound score: a rule-based lexicon model that ships inside its wheel, runs in
microseconds per text and needs no download, so it is usable in every pipeline stage and in tests.
Intents (pain, solution_request, advice_request, praise, pricing, competitor) come from compiled regular
expressions written from general language, combined with the sentiment where a word alone is ambiguous
("problem" in a how-to question is not necessarily pain; "great" in a complaint is not praise).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

SentimentLabel = Literal["positive", "negative", "neutral"]

SENTIMENT_LABELS: tuple[SentimentLabel, ...] = ("positive", "negative", "neutral")
INTENTS: tuple[str, ...] = ("pain", "solution_request", "advice_request", "praise", "pricing", "competitor")
SCORER_VERSION = 1  # bump whenever rules or lexicon change: the themes stage then re-scores every mention

# VADER's standard thresholds on the compound score.
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
# Below this a text is a complaint whatever endorsement words it holds (sarcasm, "used to love it").
STRONGLY_NEGATIVE = -0.5

# IT-incident vocabulary VADER's general-purpose lexicon lacks; valences on its -4..4 scale.
# Topic words ("ransomware", "backup", "encrypted") stay neutral: news about them is not a complaint.
DOMAIN_LEXICON: dict[str, float] = {
    "outage": -1.8,
    "outages": -1.8,
    "downtime": -1.5,
    "breach": -1.5,
    "breached": -2.0,
    "phished": -2.0,
    "corrupted": -1.8,
    "corrupting": -1.8,
    "crashed": -1.8,
    "crashing": -1.8,
    "buggy": -1.5,
    "malicious": -1.8,
    "compromised": -1.8,
    "nightmare": -2.5,
    "seamless": 1.5,
    "seamlessly": 1.5,
}


@dataclass(frozen=True)
class Signals:
    """What one mention says, in the terms a marketing team acts on."""

    sentiment: float
    sentiment_label: SentimentLabel
    intents: tuple[str, ...]


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# A negation up to three words before a phrase, in the same clause ("not great", "don't really love").
_NEGATION_BEFORE = re.compile(r"(?:\b(?:not|no|never|hardly|barely)\b|n't)\s+(?:[\w'-]+\s+){0,3}$", re.IGNORECASE)

# --- pain ---------------------------------------------------------------------------------------
# Explicit pain vocabulary: counts whatever the overall tone, since people often describe pain flatly,
# unless negated just before ("never had an outage").
_PAIN_STRONG = _rx(
    r"\bnightmare\b",
    r"\bfrustrat\w*",
    r"\boutages?\b",
    r"\blost (?:\w+ )?(?:data|files?|emails?|everything|days?|hours?|access|sales|a client)\b",
    r"\bdata loss\b",
    r"\b(?:doesn't|does not|don't|do not|won't|will not|didn't|isn't|aren't|is not) (?:even |actually )?work(?:ing)?\b",
    r"\bnot working\b|\bstopped working\b",
    r"\bstruggl\w*",
    r"\bkilling (?:us|me)\b|\bdriving (?:me|us|my \w+|them) (?:crazy|nuts|mad)\b",
    r"\bheadaches?\b|\bpain in the\b",
    r"\bfighting (?:with|against)\b",
    r"\b(?:i|we) hate\b|^hate\b",
    r"\bbroke(?:n)?\b|\bcorrupt\w*|\bcrash(?:ed|es|ing)\b",
    r"\bfail(?:ed|s|ing|ure)\b",
    r"\buseless\b|\bwaste of (?:time|money)\b",
)
# Weak pain words: problem talk that is only pain when the text leans negative.
_PAIN_WEAK = _rx(
    r"\bproblems?\b",
    r"\bissues?\b",
    r"\bstuck\b",
    r"\bslow\b",
    r"\bwent down\b|\bis down\b|\bwas down\b",
    r"\bkeeps? \w+ing\b",
    r"\b(?:complain\w*|annoying|terrible|awful|horrible|disaster|sucks?)\b",
    r"\bcan't (?:\w+ )?(?:get|find|produce|restore|access|log)\b",
)

# --- solution_request ---------------------------------------------------------------------------
# Asking for a product, vendor or service: the demand signal sales cares most about.
_PRODUCT = (
    r"(?:tool|software|app|application|vendor|service|product|platform|solution|provider|system|msp|mssp|"
    r"company|psa|rmm|program|suite)s?"
)
_SOLUTION_STRONG = _rx(
    rf"\b(?:looking|searching|hunting|shopping(?: around)?) for (?:a |an |some |the )?(?:[\w-]+ ){{0,3}}{_PRODUCT}\b",
    r"\bshopping around\b",
    rf"\bseeking (?:a |an |some )?(?:[\w-]+ ){{0,3}}{_PRODUCT}\b|\bseeking an? \w+ that\b",
    r"\bany (?:recommendations?|recs|suggestions?) (?:for|on)\b",
    r"\b(?:can|could|would) (?:anyone|anybody|someone|somebody|you) recommend\b",
    r"\brecommend me\b",
    r"\bwhat (?:do|does|are|should) (?:you|y'all|you all|you guys|everyone|everybody|people|other \w+) "
    r"(?:use|using|recommend|run|running)\b",
    r"\bwhat(?:'s| is| are) (?:everyone|everybody|people|you all|y'all|you guys) (?:using|running)\b",
    r"\balternatives? (?:to|for)\b",
    rf"\bis there (?:a|an|any) (?:[\w-]+ ){{0,2}}{_PRODUCT}\b",
    rf"\b(?:anyone|anybody) know (?:of )?(?:a|an|any) (?:[\w-]+ ){{0,2}}{_PRODUCT}\b",
    rf"\bneed (?:a|an) (?:[\w-]+ ){{0,2}}{_PRODUCT} (?:that|which|to|for)\b",
    r"\bsuggestions welcome\b|\bopen to (?:ideas|suggestions)\b",
    rf"\b(?:would|'d) love (?:a|an|some) (?:[\w-]+ ){{0,2}}{_PRODUCT}\b",
    r"\bwish (?:there (?:was|were)|someone (?:made|built|sold)) (?:a|an)\b",
)
# Product-shopping words that are only a request inside a question ("best backup tool for MSPs?").
_SOLUTION_QUESTION = _rx(
    rf"\b(?:best|good|decent|reliable|cheap|recommended) (?:[\w-]+ ){{0,2}}{_PRODUCT}\b",
    # "best password manager for a small team?": any noun phrase shopped "for" a need, but not a method.
    r"\b(?:best|good|decent|reliable|cheap|recommended) (?!way|practice|approach|time|place|reason|idea|thing)"
    r"[\w-]+(?: [\w-]+){0,2} (?:for|to replace)\b",
)

# --- advice_request -----------------------------------------------------------------------------
# Asking peers what to do: content-marketing and enablement material.
_ADVICE_STRONG = _rx(
    r"\bany (?:tips|advice|pointers|thoughts|words of wisdom)\b",
    r"\b(?:need|want|looking for|could use|would appreciate) (?:some |any )?(?:advice|tips|guidance|input)\b",
    r"\bwhat would (?:you|y'all|you all|you guys) do\b",
    r"\bwhat (?:should|would|do) (?:i|we) (?:know|do|consider|look out for)\b",
    r"\bhow (?:do|should|can|would|could) (?:i|we)\b",
    r"\bhow (?:do|would) (?:you|y'all|you all|you guys|others)\b",
    r"\bwhen do (?:you|y'all|you all) (?:decide|know)\b",
    r"\bam i (?:wrong|crazy|overreacting|missing something)\b",
)
# Decision phrasing that is only a request inside a question ("Should I ...?", "Is it worth ...?").
_ADVICE_QUESTION = _rx(
    r"\bshould (?:i|we)\b",
    r"\bis it (?:worth|wise|smart|a good idea|a bad idea|overkill)\b",
    r"\bwould it be (?:a mistake|wise|smart|worth|better|crazy)\b",
    r"\b(?:do|would) you (?:think|recommend|suggest)\b",
)

# --- praise -------------------------------------------------------------------------------------
# Endorsements: testimonial candidates. Checked for a negation just before them.
_PRAISE_STRONG = _rx(
    r"\b(?:i|we|really|absolutely|just) love\b|^love\b|\blove (?:how|that|the|it|this|their|them|you|y'all)\b",
    r"\bsaved (?:us|me|my|our)\b",
    r"\bworks? (?:great|perfectly|flawlessly|beautifully|like a charm)\b",
    r"\b(?:highly|definitely|strongly|would|100%) recommend\b",
    r"\bcan't say enough good\b",
    r"\bkudos\b|\bshout ?-?outs?\b|\bhats off\b|\bprops to\b",
    r"\bnever let (?:us|me) down\b",
    r"\bgame[ -]changer\b|\bworth every\b|\brock solid\b",
    r"\bbest (?:decision|move|thing|purchase|investment|tool|vendor|support)\b",
)
# Warm words that are praise only when the text is positive overall.
_PRAISE_WEAK = _rx(
    r"\b(?:fantastic|excellent|amazing|awesome|superb|outstanding|brilliant|impressed|impressive)\b",
    r"\b(?:is|are|was) (?:gold|great|solid)\b",
    r"\bthank(?:s| you) to\b",
)

# --- pricing ------------------------------------------------------------------------------------
# Money talk: packaging and price-positioning input.
_PRICING = _rx(
    r"\bpric(?:e|es|ed|ing|ey|y)\b",
    r"\bcosts?\b|\bcostly\b|\bexpensive\b|\bcheap(?:er|est)?\b|\baffordab\w*",
    r"\boverpa(?:y|ying|id)\b",
    r"\bper[- ](?:seat|user|device|endpoint|mailbox|month|year|tb|gb|license|licence)\b",
    r"[$€£]\s?\d|\b\d+(?:[.,]\d+)?\s?(?:usd|eur|gbp|dollars|bucks)\b",
    r"\blicen[cs](?:e|es|ing)\b",
    r"\bbudget\w*",
    r"\bdiscount\w*",
    r"\b(?:renewal|price|sales) quote\b|\bquoted\b",
    r"\bpremiums?\b|\bfees?\b|\bsubscription costs?\b",
    r"\bhow much (?:do|does|did|would|should|are|is)\b",
    r"\bcharg(?:e|es|ed|ing) (?:per|for|\$|by)\b",
    r"\bminimum (?:commitment|order|spend|seats?|licen[cs]es)\b",
)


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION_BEFORE.search(text[max(0, start - 40) : start]))


def _matches_unnegated(pattern: re.Pattern[str], text: str) -> bool:
    """True when some match of ``pattern`` is not right after a negation ("not highly recommend")."""
    return any(not _negated(text, m.start()) for m in pattern.finditer(text))


def _questions(text: str) -> list[str]:
    """The sentences that end in a question mark: where requests live."""
    return [s for s in re.findall(r"[^.!?\n]*\?", text) if s.strip()]


def _in_question(pattern: re.Pattern[str], text: str) -> bool:
    return any(pattern.search(q) for q in _questions(text))


def _competitor_pattern(competitors: Sequence[str]) -> re.Pattern[str] | None:
    """Whole-name match; lookarounds instead of ``\\b`` so names ending in symbols ("C++") still work."""
    names = sorted({c.strip() for c in competitors if c.strip()}, key=len, reverse=True)
    if not names:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)", re.IGNORECASE)


def sentiment_label(compound: float) -> SentimentLabel:
    if compound >= POSITIVE_THRESHOLD:
        return "positive"
    if compound <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


class SignalScorer:
    """Scores mentions; build once per run (the VADER lexicon load is ~10 ms) and reuse."""

    def __init__(self, competitors: Sequence[str] = ()) -> None:
        self._vader = SentimentIntensityAnalyzer()
        self._vader.lexicon.update(DOMAIN_LEXICON)
        self._competitors = _competitor_pattern(competitors)

    def score(self, text: str) -> Signals:
        compound = float(self._vader.polarity_scores(text)["compound"])
        return Signals(
            sentiment=compound,
            sentiment_label=sentiment_label(compound),
            intents=tuple(sorted(self._intents(text, compound))),
        )

    def score_many(self, texts: Iterable[str]) -> list[Signals]:
        return [self.score(t) for t in texts]

    def _intents(self, text: str, compound: float) -> set[str]:
        checks = {
            "pain": self._is_pain(text, compound),
            "solution_request": bool(_SOLUTION_STRONG.search(text)) or _in_question(_SOLUTION_QUESTION, text),
            "advice_request": bool(_ADVICE_STRONG.search(text)) or _in_question(_ADVICE_QUESTION, text),
            "praise": self._is_praise(text, compound),
            "pricing": bool(_PRICING.search(text)),
            "competitor": bool(self._competitors and self._competitors.search(text)),
        }
        return {name for name, hit in checks.items() if hit}

    def _is_pain(self, text: str, compound: float) -> bool:
        # Explicit vocabulary counts unless negated. Weak words count when the rest of the text is
        # negative too: "problem" alone makes VADER negative, so it cannot be its own evidence.
        if _matches_unnegated(_PAIN_STRONG, text):
            return True
        weak = [m.group(0).lower() for m in _PAIN_WEAK.finditer(text)]
        if not weak or compound >= POSITIVE_THRESHOLD:
            return False
        if len(set(weak)) >= 2:
            return True
        rest = _PAIN_WEAK.sub(" ", text)
        return self._vader.polarity_scores(rest)["compound"] <= NEGATIVE_THRESHOLD

    @staticmethod
    def _is_praise(text: str, compound: float) -> bool:
        # Praise must not be negated. Explicit endorsements survive a mildly negative text ("saved us
        # during the ransomware attack"); warm words need a positive one ("Great, another outage").
        if _matches_unnegated(_PRAISE_STRONG, text) and compound > STRONGLY_NEGATIVE:
            return True
        return compound >= POSITIVE_THRESHOLD and _matches_unnegated(_PRAISE_WEAK, text)


def rollup(signals: Sequence[Signals]) -> dict[str, Any]:
    """One theme's signals as shares, so themes of different sizes compare directly."""
    n = len(signals)
    if n == 0:
        return {
            "count": 0,
            "mean_sentiment": 0.0,
            "sentiment_share": dict.fromkeys(SENTIMENT_LABELS, 0.0),
            "intent_share": dict.fromkeys(INTENTS, 0.0),
        }
    return {
        "count": n,
        "mean_sentiment": sum(s.sentiment for s in signals) / n,
        "sentiment_share": {label: sum(s.sentiment_label == label for s in signals) / n for label in SENTIMENT_LABELS},
        "intent_share": {intent: sum(intent in s.intents for s in signals) / n for intent in INTENTS},
    }
