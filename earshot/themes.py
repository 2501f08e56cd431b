"""The themes stage: embed what is new, then cluster, label and identify themes.

Embedding and clustering are separate steps (and separate Airflow tasks): embeddings are a cache
keyed by (content hash, model), so each distinct text is embedded once, ever, and re-clustering
costs only clustering. The warehouse lock is held only to read inputs and write results, never
while the model runs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from earshot.runs import RunContext
from listeners.mention import mention_body
from warehouse.bulk import staged
from warehouse.connection import reader, transaction, writer
from warehouse.load import record_run

EMBED_CHUNK = 2048  # texts embedded between two short writer sessions
_VECTOR = {"content_hash": "VARCHAR", "model": "VARCHAR", "dims": "INTEGER", "vector": "FLOAT[]",
           "created_at": "TIMESTAMPTZ"}  # fmt: skip
_THEME = {"theme_id": "VARCHAR", "label": "VARCHAR", "keywords": "VARCHAR[]", "model": "VARCHAR",
          "centroid": "FLOAT[]", "size": "INTEGER", "coherence": "DOUBLE"}  # fmt: skip
_MEMBER = {"run_id": "VARCHAR", "mention_id": "VARCHAR", "theme_id": "VARCHAR", "similarity": "DOUBLE"}
_QUOTE = {"run_id": "VARCHAR", "theme_id": "VARCHAR", "rank": "INTEGER", "mention_id": "VARCHAR"}


def onnx_folder(ctx: RunContext) -> Path:
    """Where the ONNX export lives: ``themes.onnx_path`` or ``$EARSHOT_HOME/models/onnx-int8``."""
    return Path(ctx.market.themes.onnx_path or ctx.paths.home / "models" / "onnx-int8")


def embedding_model_name(ctx: RunContext) -> str:
    """The name vectors are stored under: backends differ slightly, so they never share cached vectors."""
    from models.embedding import resolve_model

    settings = ctx.market.themes
    if settings.backend == "onnx":
        from models.embedding_onnx import DESCRIPTOR

        descriptor = onnx_folder(ctx) / DESCRIPTOR
        if not descriptor.exists():
            raise FileNotFoundError(f"themes.backend is onnx but {descriptor} is missing: run `earshot export-onnx`")
        return str(json.loads(descriptor.read_text())["name"])
    return resolve_model(settings.model)[0]


def _embedder(ctx: RunContext) -> Any:
    settings = ctx.market.themes
    if settings.backend == "onnx":
        from models.embedding_onnx import OnnxEmbedder

        return OnnxEmbedder(onnx_folder(ctx))
    from models.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.model, batch_size=settings.batch_size)


def embed(ctx: RunContext) -> dict[str, Any]:
    """Embed every distinct mention text that has no vector for the configured model yet."""
    model_name = embedding_model_name(ctx)
    with writer(ctx.paths.warehouse) as con:
        todo = con.execute(
            """
            SELECT m.content_hash, any_value(m.title), any_value(m.text)
            FROM mentions m ANTI JOIN embeddings e ON e.content_hash = m.content_hash AND e.model = ?
            GROUP BY m.content_hash ORDER BY m.content_hash
            """,
            [model_name],
        ).fetchall()
    embedded = 0
    if todo:
        embedder = _embedder(ctx)
        for start in range(0, len(todo), EMBED_CHUNK):
            chunk = todo[start : start + EMBED_CHUNK]
            vectors = embedder.embed([mention_body(title, text) for _, title, text in chunk])
            now = datetime.now(UTC)
            rows = ((h, model_name, vectors.shape[1], v, now) for (h, _, _), v in zip(chunk, vectors, strict=True))
            with writer(ctx.paths.warehouse) as con, transaction(con), staged(con, "staged_vectors", _VECTOR, rows):
                con.execute("INSERT INTO embeddings SELECT * FROM staged_vectors ON CONFLICT DO NOTHING")
            embedded += len(chunk)
    return {"model": model_name, "embedded": embedded}


_SIGNAL = {"mention_id": "VARCHAR", "content_hash": "VARCHAR", "sentiment": "DOUBLE", "sentiment_label": "VARCHAR",
           "intents": "VARCHAR[]", "scored_at": "TIMESTAMPTZ"}  # fmt: skip


def signals(ctx: RunContext) -> dict[str, Any]:
    """Score sentiment and intents for mentions that are new or whose text changed (lexicon and rules,
    offline). Mentions already scored keep their signals when the competitor list changes."""
    from models.signals import SignalScorer

    with writer(ctx.paths.warehouse) as con:
        todo = con.execute(
            """
            SELECT m.mention_id, m.content_hash, m.title, m.text FROM mentions m
            LEFT JOIN mention_signals s USING (mention_id)
            WHERE s.mention_id IS NULL OR s.content_hash <> m.content_hash ORDER BY 1
            """
        ).fetchall()
    scorer = SignalScorer(competitors=ctx.market.competitors)
    now = datetime.now(UTC)
    scored = [
        (mention_id, content, s.sentiment, s.sentiment_label, list(s.intents), now)
        for (mention_id, content, title, text), s in zip(
            todo, scorer.score_many([mention_body(t, x) for _, _, t, x in todo]), strict=True
        )
    ]
    with writer(ctx.paths.warehouse) as con, transaction(con), staged(con, "staged_signals", _SIGNAL, scored):
        con.execute(
            """
            INSERT INTO mention_signals SELECT * FROM staged_signals
            ON CONFLICT (mention_id) DO UPDATE SET content_hash = excluded.content_hash,
                sentiment = excluded.sentiment, sentiment_label = excluded.sentiment_label,
                intents = excluded.intents, scored_at = excluded.scored_at
            """
        )
    return {"scored": len(scored)}


@dataclass(frozen=True)
class _Corpus:
    mention_ids: list[str]
    sources: list[str]
    bodies: list[str]
    vectors: np.ndarray


def _read_corpus(ctx: RunContext, model_name: str) -> tuple[_Corpus, dict[str, np.ndarray]]:
    with reader(ctx.paths.warehouse) as con:
        rows = con.execute(
            """
            SELECT m.mention_id, m.source_id, m.title, m.text, e.vector
            FROM mentions m JOIN embeddings e ON e.content_hash = m.content_hash AND e.model = ?
            ORDER BY m.mention_id
            """,
            [model_name],
        ).fetchall()
        previous = con.execute(
            "SELECT theme_id, centroid FROM themes WHERE model = ? AND active", [model_name]
        ).fetchall()
    dims = len(rows[0][4]) if rows else 0
    corpus = _Corpus(
        mention_ids=[r[0] for r in rows],
        sources=[r[1] for r in rows],
        bodies=[mention_body(r[2], r[3]) for r in rows],
        vectors=np.asarray([r[4] for r in rows], dtype=np.float32).reshape(len(rows), dims),
    )
    return corpus, {theme_id: np.asarray(c, dtype=np.float32) for theme_id, c in previous}


def cluster(ctx: RunContext) -> dict[str, Any]:
    """Cluster all embedded mentions into themes and commit them as this run's partition."""
    from models.clustering import NOISE, ClusterSettings
    from models.clustering import cluster as fit
    from models.identity import match_themes
    from models.keywords import label_from_keywords, theme_keywords
    from models.quotes import representative

    settings = ctx.market.themes
    model_name = embedding_model_name(ctx)
    corpus, previous = _read_corpus(ctx, model_name)
    result = fit(
        corpus.vectors,
        ClusterSettings(
            min_cluster_size=None if settings.min_cluster_size == "auto" else settings.min_cluster_size,
            reduce_to=settings.reduce_to,
            assign_threshold=settings.assign_threshold,
            seed=settings.seed,
        ),
    )
    members: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(result.labels):
        if label != NOISE:
            members[int(label)].append(index)
    anchors = [corpus.mention_ids[max(idx, key=lambda i: result.similarity[i])] for _, idx in sorted(members.items())]
    theme_ids = match_themes(result.centroids, previous, anchors)
    keywords = theme_keywords({c: [corpus.bodies[i] for i in idx] for c, idx in members.items()})
    quote_count = ctx.market.report.quotes_per_theme
    themes_rows, member_rows, quote_rows = [], [], []
    for cluster_index, idx in sorted(members.items()):
        theme_id = theme_ids[cluster_index]
        words = keywords.get(cluster_index, [])
        themes_rows.append(
            (
                theme_id,
                label_from_keywords(words),
                words,
                model_name,
                result.centroids[cluster_index].tolist(),
                len(idx),
                float(result.coherence[cluster_index]),
            )
        )
        member_rows += [(ctx.run_id, corpus.mention_ids[i], theme_id, float(result.similarity[i])) for i in idx]
        picked = representative(
            result.similarity[idx], [corpus.sources[i] for i in idx], n=quote_count, vectors=corpus.vectors[idx]
        )
        quote_rows += [(ctx.run_id, theme_id, rank, corpus.mention_ids[idx[p]]) for rank, p in enumerate(picked)]
    details = {
        "mentions": len(corpus.mention_ids),
        "themes": len(themes_rows),
        "unassigned": int(np.sum(result.labels == NOISE)),
        "noise_share": round(result.noise_share, 4),
        "model": model_name,
    }
    _write_themes(ctx, themes_rows, member_rows, quote_rows, details)
    return details


def _write_themes(
    ctx: RunContext,
    themes_rows: list[tuple],
    member_rows: list[tuple],
    quote_rows: list[tuple],
    details: dict,
) -> None:
    with writer(ctx.paths.warehouse) as con, transaction(con):
        model_name = details["model"]
        con.execute("UPDATE themes SET active = FALSE WHERE model = ?", [model_name])
        with staged(con, "staged_themes", _THEME, themes_rows):
            con.execute(
                """
                INSERT INTO themes (theme_id, label, keywords, model, centroid, size, coherence, first_seen_run,
                    last_seen_run, active)
                SELECT *, $run, $run, TRUE FROM staged_themes
                ON CONFLICT (theme_id) DO UPDATE SET label = excluded.label, keywords = excluded.keywords,
                    centroid = excluded.centroid, size = excluded.size, coherence = excluded.coherence,
                    last_seen_run = excluded.last_seen_run, active = TRUE
                """,
                {"run": ctx.run_id},
            )
        con.execute("DELETE FROM theme_members WHERE run_id = ?", [ctx.run_id])
        con.execute("DELETE FROM theme_quotes WHERE run_id = ?", [ctx.run_id])
        with staged(con, "staged_members", _MEMBER, member_rows):
            con.execute("INSERT INTO theme_members SELECT * FROM staged_members")
        with staged(con, "staged_quotes", _QUOTE, quote_rows):
            con.execute("INSERT INTO theme_quotes SELECT * FROM staged_quotes")
        record_run(con, ctx.run_id, "themes", ctx.run_at, datetime.now(UTC), "success", details)
