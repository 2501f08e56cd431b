"""Pure theme modelling: clustering, keywords and labels, quotes, stable identities."""

from __future__ import annotations

import numpy as np
import pytest

from models.clustering import NOISE, ClusterSettings, auto_min_cluster_size, cluster
from models.identity import match_themes, new_theme_id
from models.keywords import label_from_keywords, theme_keywords
from models.quotes import excerpt, representative


def blobs(
    seed: int = 0, per: int = 40, centres: int = 4, noise: int = 12, dims: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``centres`` well-separated directions, plus scattered noise (label -1)."""
    rng = np.random.default_rng(seed)
    axes = np.linalg.qr(rng.normal(size=(dims, dims)))[0][:centres]
    points = [axis + rng.normal(scale=0.08, size=(per, dims)) for axis in axes]
    points.append(rng.normal(size=(noise, dims)))
    vectors = np.vstack(points)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    truth = np.concatenate([np.full(per, c) for c in range(centres)] + [np.full(noise, -1)])
    return vectors.astype(np.float32), truth


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(a, b))


def test_finds_planted_groups_and_leaves_noise_out() -> None:
    vectors, truth = blobs()
    result = cluster(vectors, ClusterSettings(min_cluster_size=10, assign_threshold=0.6))
    assert result.n_clusters == 4
    planted = truth >= 0
    assert agreement(result.labels[planted], truth[planted]) > 0.95
    assert np.mean(result.labels[~planted] == NOISE) >= 0.75  # noise is not forced into themes
    assert np.allclose(np.linalg.norm(result.centroids, axis=1), 1.0, atol=1e-5)


def test_same_input_same_result_and_order_does_not_matter() -> None:
    vectors, _ = blobs(seed=3)
    settings = ClusterSettings(min_cluster_size=10)
    first, second = cluster(vectors, settings), cluster(vectors, settings)
    assert np.array_equal(first.labels, second.labels)
    order = np.random.default_rng(1).permutation(len(vectors))
    shuffled = cluster(vectors[order], settings)
    assert agreement(first.labels[order], shuffled.labels) > 0.95


def test_too_few_texts_yield_no_themes() -> None:
    vectors, _ = blobs(per=3, centres=2, noise=0)
    result = cluster(vectors, ClusterSettings(min_cluster_size=10))
    assert result.n_clusters == 0 and (result.labels == NOISE).all()


@pytest.mark.parametrize(("n", "size"), [(10, 10), (400, 10), (20_000, 10), (100_000, 50), (1_000_000, 100)])
def test_auto_min_cluster_size_scales(n: int, size: int) -> None:
    assert auto_min_cluster_size(n) == size


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
