"""What each theme is about, in words: class-based TF-IDF keywords and a short phrase label.

c-TF-IDF treats all texts of a theme as one document and weighs terms by how much more frequent they
are in that theme than across themes, so labels name what is *distinctive*, not what is common.
Bigrams are kept so labels read as phrases ("immutable backups"), not bags of stems.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

_TOKEN = re.compile(r"(?u)\b[a-z0-9][a-z0-9+#'-]*[a-z0-9+#]\b")

_EXTRA_STOP_WORDS = {
    "just", "like", "really", "got", "get", "im", "ive", "dont", "did", "does", "know", "think", "want",
    "need", "week", "weeks", "day", "days", "today", "year", "years", "time", "people", "thing", "things",
    "lot", "way", "going", "make", "said", "says", "new", "good", "bad", "use", "using", "used",
}  # fmt: skip


def theme_keywords(docs_by_theme: Mapping[int, Sequence[str]], top_n: int = 8) -> dict[int, list[str]]:
    """Top ``top_n`` distinctive terms (unigrams and bigrams) per theme, best first."""
    from sklearn.feature_extraction.text import CountVectorizer

    themes = sorted(docs_by_theme)
    if not themes:
        return {}
    # One "document" per text, grouped afterwards, so no bigram spans two texts.
    vectorizer = CountVectorizer(analyzer=terms_of)
    try:
        per_text = vectorizer.fit_transform([text for t in themes for text in docs_by_theme[t]])
    except ValueError:  # nothing but stop words
        return {t: [] for t in themes}
    owners = np.repeat(np.arange(len(themes)), [len(docs_by_theme[t]) for t in themes])
    counts = np.vstack([np.asarray(per_text[owners == row].sum(axis=0)).ravel() for row in range(len(themes))])
    counts = counts.astype(np.float64)
    terms = vectorizer.get_feature_names_out()
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    mean_words = counts.sum() / len(themes)
    idf = np.log(1.0 + mean_words / np.maximum(counts.sum(axis=0), 1.0))
    scores = tf * idf
    out: dict[int, list[str]] = {}
    for row, theme in enumerate(themes):
        order = np.argsort(-scores[row], kind="stable")
        ranked = [str(terms[i]) for i in order if scores[row, i] > 0]
        frequency = {str(terms[i]): counts[row, i] for i in order if counts[row, i] > 0}
        out[theme] = [as_written(term, docs_by_theme[theme]) for term in _phrases(ranked, frequency, top_n)]
    return out


def as_written(term: str, texts: Sequence[str], sample_chars: int = 200_000) -> str:
    """``term`` in the casing its theme's texts use most ("mfa" → "MFA", "sharepoint" → "SharePoint"),
    lower case when nobody agrees. Reads at most ``sample_chars`` of text."""
    pattern = re.compile(r"\b" + r"\s+".join(map(re.escape, term.split())) + r"\b", re.IGNORECASE)
    forms: dict[str, int] = {}
    seen = 0
    for text in texts:
        for match in pattern.finditer(text):
            form = " ".join(match.group().split())
            forms[form] = forms.get(form, 0) + 1
        seen += len(text)
        if seen > sample_chars:
            break
    if not forms:
        return term
    return max(sorted(forms), key=lambda form: (forms[form], form == term))


def terms_of(text: str) -> list[str]:
    """Words and two-word phrases of ``text``; a phrase never spans a stop word, so "MFA before
    insurance" yields no false "mfa insurance". Numbers count only inside a phrase."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    tokens = _TOKEN.findall(text.lower())
    keep = [t not in ENGLISH_STOP_WORDS and t not in _EXTRA_STOP_WORDS for t in tokens]
    words = [t for t, k in zip(tokens, keep, strict=True) if k and not t.isdigit()]
    pairs = [
        f"{a} {b}"
        for a, b, ka, kb in zip(tokens, tokens[1:], keep, keep[1:], strict=False)
        if ka and kb and not a.isdigit()  # "microsoft 365" is a phrase; "365 days" is not
    ]
    return words + pairs


def _phrases(ranked: list[str], frequency: Mapping[str, float], top_n: int, share: float = 0.5) -> list[str]:
    """Rewrite a word as the phrase it mostly occurs in, then drop terms a kept term already says.

    A word whose most frequent bigram accounts for at least ``share`` of its uses is shown as that
    bigram ("premium" → "insurance premium"), so labels read as phrases rather than bags of words.
    """
    bigrams = [t for t in frequency if " " in t]
    kept: list[str] = []
    for term in ranked:
        if " " not in term:
            containing = [b for b in bigrams if term in b.split()]
            best = max(containing, key=lambda b: (frequency[b], b), default=None)
            if best is not None and frequency[best] >= share * frequency[term]:
                term = best
        words = set(term.split())
        if any(words <= set(k.split()) or set(k.split()) <= words for k in kept):
            continue
        kept.append(term)
        if len(kept) == top_n:
            break
    return kept


def label_from_keywords(keywords: Sequence[str], max_terms: int = 2) -> str:
    """A short readable label: the leading keyphrases, e.g. ``Immutable backups · ransomware``."""
    if not keywords:
        return "Unlabelled theme"
    phrases = sorted(keywords[: max_terms + 1], key=lambda k: -len(k.split()))[:max_terms]
    ordered = [k for k in keywords if k in phrases]
    label = " · ".join(ordered)
    return label[:1].upper() + label[1:]
