"""The themes stage: embed what is new, then cluster, label and identify themes.

Embedding and clustering are separate steps (and separate Airflow tasks): embeddings are a cache
keyed by (content hash, model), so each distinct text is embedded once, ever, and re-clustering
costs only clustering. The warehouse lock is held only to read inputs and write results, never
while the model runs.

Clustering does not recluster all history every run: new mentions are assigned to the existing
themes, and everything is reclustered (a refit) on a schedule, when the corpus grew or drifted, or
when asked; ``models/refit_policy.py`` states the policy, ``models/identity.py`` how a refit keeps
theme ids and records merges and splits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from earshot.logs import logged_stage
from earshot.progress import Progress
from earshot.runs import RunContext
from listeners.mention import mention_body
from warehouse.bulk import staged
from warehouse.connection import reader, transaction, writer
from warehouse.load import record_run
from warehouse.upsert import upsert

if TYPE_CHECKING:
    import duckdb

    from models.refit_policy import Decision, Facts, LastRefit

EMBED_CHUNK = 2048  # texts embedded between two short writer sessions
EMBED_STEP = 256  # texts per model call: how often progress is told
log = logging.getLogger(__name__)
_VECTOR = {"content_hash": "VARCHAR", "model": "VARCHAR", "dims": "INTEGER", "vector": "FLOAT[]",
           "created_at": "TIMESTAMPTZ"}  # fmt: skip


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


@logged_stage("themes.embed", rate="embedded")
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
        with Progress(f"embedding with {model_name}", len(todo), "texts") as progress:
            for start in range(0, len(todo), EMBED_CHUNK):
                chunk = todo[start : start + EMBED_CHUNK]
                vectors = _embed_counted(embedder, [mention_body(title, text) for _, title, text in chunk], progress)
                now = datetime.now(UTC)
                rows = ((h, model_name, vectors.shape[1], v, now) for (h, _, _), v in zip(chunk, vectors, strict=True))
                with writer(ctx.paths.warehouse) as con, transaction(con), staged(con, "staged_vectors", _VECTOR, rows):
                    upsert(con, "embeddings", "staged_vectors", ["content_hash", "model"])
                embedded += len(chunk)
    return {"model": model_name, "embedded": embedded}


def _embed_counted(embedder: Any, texts: list[str], progress: Progress) -> np.ndarray:
    """Embed in steps of :data:`EMBED_STEP` texts, telling ``progress`` after each."""
    parts = []
    for start in range(0, len(texts), EMBED_STEP):
        parts.append(embedder.embed(texts[start : start + EMBED_STEP]))
        progress.advance(len(parts[-1]))
    return np.concatenate(parts)


_SIGNAL = {"mention_id": "VARCHAR", "content_hash": "VARCHAR", "sentiment": "DOUBLE", "sentiment_label": "VARCHAR",
           "intents": "VARCHAR[]", "scored_at": "TIMESTAMPTZ", "scorer": "VARCHAR"}  # fmt: skip


def scorer_fingerprint(competitors: list[str]) -> str:
    """What the signal scorer's output depends on besides the text: its version and the competitor list
    (as matched: trimmed, case-insensitive). A mention scored under another fingerprint is re-scored."""
    from models.signals import SCORER_VERSION

    names = sorted({c.strip().lower() for c in competitors if c.strip()})
    text = json.dumps({"version": SCORER_VERSION, "competitors": names})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@logged_stage("themes.signals", rate="scored")
def signals(ctx: RunContext) -> dict[str, Any]:
    """Score sentiment and intents for mentions that are new, whose text changed, or that were scored
    by another scorer configuration (``scorer_fingerprint``: a changed competitor list in market.yaml,
    or a new ``models.signals.SCORER_VERSION``, re-scores every mention)."""
    from models.signals import SignalScorer

    scorer_id = scorer_fingerprint(ctx.market.competitors)
    with writer(ctx.paths.warehouse) as con:
        todo = con.execute(
            """
            SELECT m.mention_id, m.content_hash, m.title, m.text FROM mentions m
            LEFT JOIN mention_signals s USING (mention_id)
            WHERE s.mention_id IS NULL OR s.content_hash <> m.content_hash OR s.scorer IS DISTINCT FROM ?
            ORDER BY 1
            """,
            [scorer_id],
        ).fetchall()
    scorer = SignalScorer(competitors=ctx.market.competitors)
    now = datetime.now(UTC)
    scored = [
        (mention_id, content, s.sentiment, s.sentiment_label, list(s.intents), now, scorer_id)
        for (mention_id, content, title, text), s in zip(
            todo, scorer.score_many([mention_body(t, x) for _, _, t, x in todo]), strict=True
        )
    ]
    del todo
    with writer(ctx.paths.warehouse) as con, transaction(con), staged(con, "staged_signals", _SIGNAL, scored):
        upsert(con, "mention_signals", "staged_signals", ["mention_id"], [c for c in _SIGNAL if c != "mention_id"])
    return {"scored": len(scored), "scorer": scorer_id}


# --- clustering: refit or assign (models/refit_policy.py), identities and lineage (models/identity.py) ---

VECTOR_CHUNK = 8192  # embedding rows per query while filling the float32 matrix (bounded transient memory)
QUOTE_POOL = 200  # assign: the most central carried members per changed theme that quotes are re-picked from
KEYWORD_SAMPLE = 1000  # assign: the most central members per theme whose texts re-describe changed themes
TEXT_BATCH = 4096  # rows per fetch while streaming mention texts

_THEME = {"theme_id": "VARCHAR", "label": "VARCHAR", "keywords": "VARCHAR[]", "model": "VARCHAR",
          "centroid": "FLOAT[]", "size": "INTEGER", "coherence": "DOUBLE"}  # fmt: skip
_PLACED = {"mention_id": "VARCHAR", "content_hash": "VARCHAR", "theme_id": "VARCHAR", "similarity": "DOUBLE"}
_QUOTE = {"run_id": "VARCHAR", "theme_id": "VARCHAR", "rank": "INTEGER", "mention_id": "VARCHAR"}
_CENTROID = {"fit_run_id": "VARCHAR", "theme_id": "VARCHAR", "centroid": "FLOAT[]", "reduced_centroid": "FLOAT[]"}
_LINEAGE = {"run_id": "VARCHAR", "parent_theme_id": "VARCHAR", "child_theme_id": "VARCHAR", "kind": "VARCHAR",
            "share": "DOUBLE"}  # fmt: skip
_KEYWORDS = {"theme_id": "VARCHAR", "keywords": "VARCHAR[]"}

# A mention is new to this run when no earlier themes run placed it, or placed another version of its text.
# ``first_run_id = $run`` keeps a re-run of the same run id seeing exactly what its first attempt saw.
_IS_NEW = "(s.mention_id IS NULL OR s.first_run_id = $run OR s.content_hash <> m.content_hash)"
_BEFORE = "(f.fitted_at < $at OR (f.fitted_at = $at AND f.run_id < $run))"
_CORPUS = """
    FROM mentions m JOIN embeddings e ON e.content_hash = m.content_hash AND e.model = $model
    LEFT JOIN theme_seen s ON s.mention_id = m.mention_id
"""


@dataclass(frozen=True)
class _Previous:
    """The themes as the previous run (strictly before this one) left them."""

    run_id: str | None
    fit_run_id: str | None  # the refit whose themes, labels and centroids that run used
    theme_ids: list[str]
    centroids: np.ndarray  # one row per theme id
    reduced_centroids: np.ndarray | None  # the same in the refit's reduced space (None: not recorded)
    projection: Any  # models.clustering.Projection the refit reduced with (None: not recorded)
    last_refit: LastRefit | None


@dataclass(frozen=True)
class _Batch:
    """Mentions with their vectors (one float32 matrix) and the theme each had in the previous run."""

    mention_ids: np.ndarray
    sources: np.ndarray
    hashes: np.ndarray
    previous: np.ndarray  # previous run's theme id, '' for none
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.mention_ids)


def _params(ctx: RunContext, **extra: Any) -> dict[str, Any]:
    return {"run": ctx.run_id, "at": ctx.run_at, **extra}


def _sql(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """Execute with the named parameters ``sql`` uses (DuckDB rejects unused ones)."""
    names = set(re.findall(r"\$([a-z_]+)", sql))
    return con.execute(sql, {k: v for k, v in params.items() if k in names})


def _read_previous(con: duckdb.DuckDBPyConnection, ctx: RunContext) -> _Previous:
    from models.refit_policy import LastRefit

    order = "ORDER BY f.fitted_at DESC, f.run_id DESC LIMIT 1"
    row = _sql(con, f"SELECT run_id, refit_run_id FROM theme_fits f WHERE {_BEFORE} {order}", _params(ctx)).fetchone()
    last = _sql(
        con,
        "SELECT fitted_at, model, settings_fingerprint, mentions, unassigned_share "
        f"FROM theme_fits f WHERE mode = 'refit' AND {_BEFORE} {order}",
        _params(ctx),
    ).fetchone()
    themes, projection = [], None
    if row:
        themes = con.execute(
            "SELECT theme_id, centroid, reduced_centroid FROM theme_centroids WHERE fit_run_id = ? ORDER BY theme_id",
            [row[1]],
        ).fetchall()
        stored = con.execute("SELECT mean, components, rows FROM theme_projections WHERE fit_run_id = ?", [row[1]])
        projection = _projection(*(stored.fetchone() or (None, None, 0)))
    reduced = [t[2] for t in themes]
    return _Previous(
        run_id=row[0] if row else None,
        fit_run_id=row[1] if row else None,
        theme_ids=[t[0] for t in themes],
        centroids=np.asarray([t[1] for t in themes], dtype=np.float32),
        reduced_centroids=np.asarray(reduced, dtype=np.float32) if None not in reduced else None,
        projection=projection,
        last_refit=LastRefit(last[0], last[1], last[2], int(last[3]), float(last[4])) if last else None,
    )


def _projection(mean: list[float] | None, components: list[float] | None, rows: int) -> Any:
    from models.clustering import Projection

    if mean is None or components is None:
        return None
    return Projection(
        np.asarray(mean, dtype=np.float32), np.asarray(components, dtype=np.float32).reshape(rows, len(mean) or 0)
    )


def _read_batch(
    con: duckdb.DuckDBPyConnection, ctx: RunContext, model: str, previous_run: str | None, only_new: bool
) -> _Batch:
    """Embedded mentions (all, or only those new to this run) in mention-id order. Vectors go straight
    into one preallocated float32 matrix, a chunk of embedding rows at a time: never a Python list of
    floats per row (at 10^5 mentions that alone took gigabytes)."""
    meta = _sql(
        con,
        f"""
        SELECT m.mention_id, m.source_id, m.content_hash, coalesce(tm.theme_id, '') AS previous, e.rowid AS emb_row
        {_CORPUS}
        LEFT JOIN theme_members tm ON tm.run_id = $previous AND tm.mention_id = m.mention_id
        {"WHERE " + _IS_NEW if only_new else ""}
        ORDER BY m.mention_id
        """,
        _params(ctx, model=model, previous=previous_run),
    ).fetchnumpy()
    return _Batch(
        meta["mention_id"], meta["source_id"], meta["content_hash"], meta["previous"],
        _read_vectors(con, meta["emb_row"]),
    )  # fmt: skip


def _read_vectors(con: duckdb.DuckDBPyConnection, rows: np.ndarray) -> np.ndarray:
    """Vectors of the ``embeddings`` rows ``rows`` (rowids, repeats allowed), in that order."""
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    wanted = rows[order]
    out: np.ndarray | None = None
    at = 0
    while at < len(wanted):
        start = int(wanted[at])
        end = int(np.searchsorted(wanted, start + VECTOR_CHUNK))
        chunk = con.execute(
            "SELECT rowid AS r, vector FROM embeddings WHERE rowid >= ? AND rowid < ?", [start, start + VECTOR_CHUNK]
        ).fetchnumpy()
        found = np.asarray(chunk["r"], dtype=np.int64)
        sort = np.argsort(found)
        picked = chunk["vector"][sort[np.searchsorted(found[sort], wanted[at:end])]]
        if out is None:
            out = np.empty((len(rows), len(picked[0])), dtype=np.float32)
        out[order[at:end]] = np.stack(picked)
        at = end
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def _cluster_settings(ctx: RunContext) -> Any:
    from models.clustering import ClusterSettings

    settings = ctx.market.themes
    return ClusterSettings(
        min_cluster_size=None if settings.min_cluster_size == "auto" else settings.min_cluster_size,
        reduce_to=settings.reduce_to,
        assign_threshold=settings.assign_threshold,
        seed=settings.seed,
    )


@logged_stage("themes.cluster")
def cluster(ctx: RunContext, refit: bool = False) -> dict[str, Any]:
    """Place this run's mentions in themes and commit them as this run's partition.

    Normally new mentions are assigned to the existing themes; everything is reclustered when
    ``refit`` is asked for or the policy in ``models/refit_policy.py`` calls for it. Either way the
    result is written the same way (``theme_members`` / ``theme_quotes`` partitions, ``themes``), plus
    a ``theme_fits`` row saying which mode ran and why, and ``theme_lineage`` rows for this run.
    """
    from models.refit_policy import Facts, PolicySettings, decide, fingerprint

    settings = ctx.market.themes
    model = embedding_model_name(ctx)
    cluster_settings = _cluster_settings(ctx)
    policy = PolicySettings(
        settings.refit_every_days, settings.refit_growth, settings.drift_margin, settings.drift_min_mentions
    )
    with writer(ctx.paths.warehouse):
        pass  # applies pending migrations: readers never do
    with reader(ctx.paths.warehouse) as con:
        previous = _read_previous(con, ctx)
        counts = _sql(con, f"SELECT count(*), count(*) FILTER ({_IS_NEW}) {_CORPUS}", _params(ctx, model=model))
        mentions, new_mentions = counts.fetchone() or (0, 0)
        facts = Facts(
            run_at=ctx.run_at,
            model=model,
            fingerprint=fingerprint(asdict(cluster_settings)),
            mentions=int(mentions),
            new_mentions=int(new_mentions),
            active_themes=len(previous.theme_ids),
            last_refit=previous.last_refit,
            forced=refit,
        )
        decision = decide(facts, policy)
        batch = _read_batch(con, ctx, model, previous.run_id, only_new=True) if decision.mode == "assign" else None
    if batch is not None:
        themes_of, similarity = _assign(batch, previous, cluster_settings)
        facts = replace(facts, new_mentions=len(batch), new_unassigned=int(np.sum(themes_of == "")))
        decision = decide(facts, policy)
        if decision.mode == "assign":
            return _assign_run(ctx, model, facts, decision, previous, batch, themes_of, similarity)
        del batch
    return _refit_run(ctx, model, facts, decision, previous, cluster_settings)


def _assign(batch: _Batch, previous: _Previous, settings: Any) -> tuple[np.ndarray, np.ndarray]:
    """Theme id per mention ('' for none) and its cosine to that theme's centroid (for none: the nearest),
    by the rule the refit's outliers met, in the refit's own reduced space (``models.clustering.assign``).
    Its floors are settings, equal to the refit's: changed settings would have forced a refit."""
    from models.clustering import NOISE, assign

    themes_of = np.full(len(batch), "", dtype=object)
    if not len(batch) or not previous.theme_ids:
        return themes_of, np.zeros(len(batch), dtype=np.float32)
    if previous.projection is None or previous.reduced_centroids is None:  # not recorded: the embedding space
        labels, similarity = assign(batch.vectors, previous.centroids, previous.centroids, _no_projection(), settings)
    else:
        labels, similarity = assign(
            batch.vectors, previous.centroids, previous.reduced_centroids, previous.projection, settings
        )
    placed = labels != NOISE
    themes_of[placed] = np.asarray(previous.theme_ids, dtype=object)[labels[placed]]
    return themes_of, np.asarray(similarity, dtype=np.float32)


def _no_projection() -> Any:
    from models.clustering import Projection

    return Projection(np.zeros(0, dtype=np.float32), np.zeros((0, 0), dtype=np.float32))


def _assign_run(
    ctx: RunContext,
    model: str,
    facts: Facts,
    decision: Decision,
    previous: _Previous,
    batch: _Batch,
    themes_of: np.ndarray,
    similarity: np.ndarray,
) -> dict[str, Any]:
    """Carry the previous memberships, add the new mentions that fit, refresh sizes, quotes, keywords."""
    from models.keywords import theme_keywords
    from models.quotes import representative

    joined = {str(t) for t in themes_of if t}
    left = {str(t) for t in batch.previous if t}  # a member whose text changed is placed again
    changed = sorted(joined | left)
    quote_rows: list[tuple] = []
    keyword_rows: list[tuple] = []
    if changed:
        new_members = {t: np.flatnonzero(themes_of == t) for t in joined}
        with reader(ctx.paths.warehouse) as con:
            pools = _sql(
                con,
                f"""
                SELECT tm.theme_id, tm.mention_id, tm.similarity, m.source_id, e.rowid AS emb_row
                FROM theme_members tm JOIN mentions m USING (mention_id)
                JOIN embeddings e ON e.content_hash = m.content_hash AND e.model = $model
                LEFT JOIN theme_seen s ON s.mention_id = m.mention_id
                WHERE tm.run_id = $previous AND list_contains($changed::VARCHAR[], tm.theme_id) AND NOT {_IS_NEW}
                QUALIFY row_number() OVER (PARTITION BY tm.theme_id ORDER BY tm.similarity DESC, tm.mention_id)
                    <= $pool
                ORDER BY tm.theme_id, tm.similarity DESC, tm.mention_id
                """,
                _params(ctx, model=model, previous=previous.run_id, changed=changed, pool=QUOTE_POOL),
            ).fetchnumpy()
            pool_vectors = _read_vectors(con, pools["emb_row"])
            texts = _keyword_texts(con, ctx, previous.run_id, batch, themes_of)
        for theme_id in changed:
            carried = np.flatnonzero(pools["theme_id"] == theme_id)
            fresh = new_members.get(theme_id, np.zeros(0, dtype=np.int64))
            sims = np.concatenate([np.asarray(pools["similarity"])[carried], similarity[fresh]])
            sources = [*pools["source_id"][carried], *batch.sources[fresh]]
            ids = [*pools["mention_id"][carried], *batch.mention_ids[fresh]]
            vectors = np.concatenate([pool_vectors[carried], batch.vectors[fresh]]) if len(ids) else None
            picked = representative(sims, sources, n=ctx.market.report.quotes_per_theme, vectors=vectors)
            quote_rows += [(ctx.run_id, theme_id, rank, ids[p]) for rank, p in enumerate(picked)]
        index = {theme_id: i for i, theme_id in enumerate(previous.theme_ids)}
        words = theme_keywords({index[t]: docs for t, docs in texts.items() if t in index})
        keyword_rows = [(t, words.get(index[t], [])) for t in changed if t in index]
    placed = (
        (mid, h, t or None, float(s) if t else None)
        for mid, h, t, s in zip(batch.mention_ids, batch.hashes, themes_of, similarity, strict=True)
    )
    p = _params(ctx, previous=previous.run_id, fit=previous.fit_run_id, changed=changed)
    with writer(ctx.paths.warehouse) as con, transaction(con), staged(con, "staged_placed", _PLACED, placed):
        _sql(con, "DELETE FROM theme_members WHERE run_id = $run", p)
        _sql(
            con,
            "INSERT INTO theme_members SELECT $run, mention_id, theme_id, similarity FROM theme_members "
            "WHERE run_id = $previous AND mention_id NOT IN (SELECT mention_id FROM staged_placed)",
            p,
        )
        _sql(
            con,
            "INSERT INTO theme_members SELECT $run, mention_id, theme_id, similarity FROM staged_placed "
            "WHERE theme_id IS NOT NULL",
            p,
        )
        _mark_seen(con, p)
        _sql(con, "DELETE FROM theme_quotes WHERE run_id = $run", p)
        _sql(
            con,
            "INSERT INTO theme_quotes SELECT $run, theme_id, rank, mention_id FROM theme_quotes "
            "WHERE run_id = $previous AND NOT list_contains($changed::VARCHAR[], theme_id)",
            p,
        )
        with staged(con, "staged_quotes", _QUOTE, quote_rows):
            con.execute("INSERT INTO theme_quotes SELECT * FROM staged_quotes")
        with staged(con, "staged_keywords", _KEYWORDS, keyword_rows):
            _sql(
                con,
                """
                UPDATE themes SET size = u.size, coherence = u.coherence, keywords = u.keywords,
                    last_seen_run = $run, active = TRUE
                FROM (
                    SELECT c.theme_id, coalesce(n.size, 0) AS size, coalesce(n.coherence, 0) AS coherence,
                           coalesce(k.keywords, t.keywords) AS keywords
                    FROM theme_centroids c JOIN themes t USING (theme_id)
                    LEFT JOIN (SELECT theme_id, count(*) AS size, avg(similarity) AS coherence FROM theme_members
                               WHERE run_id = $run GROUP BY ALL) n USING (theme_id)
                    LEFT JOIN staged_keywords k USING (theme_id)
                    WHERE c.fit_run_id = $fit
                ) u WHERE themes.theme_id = u.theme_id
                """,
                _params(ctx, fit=previous.fit_run_id),
            )
        _sql(
            con,
            "UPDATE themes SET active = FALSE WHERE active "
            "AND theme_id NOT IN (SELECT theme_id FROM theme_centroids WHERE fit_run_id = $fit)",
            {"fit": previous.fit_run_id},
        )
        _sql(con, "DELETE FROM theme_lineage WHERE run_id = $run", p)
        _sql(
            con,
            """
            INSERT INTO theme_lineage
            SELECT $run, p.theme_id, p.theme_id, 'continue', avg(coalesce(r.theme_id = p.theme_id, FALSE)::DOUBLE)
            FROM theme_members p LEFT JOIN theme_members r ON r.run_id = $run AND r.mention_id = p.mention_id
            WHERE p.run_id = $previous GROUP BY p.theme_id
            """,
            p,
        )
        members, links = _sql(
            con,
            "SELECT (SELECT count(*) FROM theme_members WHERE run_id = $run), "
            "(SELECT count(*) FROM theme_lineage WHERE run_id = $run)",
            p,
        ).fetchone() or (0, 0)
        details = _details(
            facts, decision, model, len(previous.theme_ids), members,
            assigned_new=int(np.sum(themes_of != "")), fit_run_id=previous.fit_run_id, lineage={"continue": links},
        )  # fmt: skip
        _record(con, ctx, details)
    return details


def _keyword_texts(
    con: duckdb.DuckDBPyConnection, ctx: RunContext, previous_run: str | None, batch: _Batch, themes_of: np.ndarray
) -> dict[str, list[str]]:
    """Texts that describe each theme for keywords: its most central carried members (at most
    ``KEYWORD_SAMPLE``) and the new mentions that joined it. Every theme takes part, as contrast."""
    texts: dict[str, list[str]] = defaultdict(list)
    rows = _sql(
        con,
        f"""
        SELECT tm.theme_id, m.title, m.text FROM theme_members tm JOIN mentions m USING (mention_id)
        LEFT JOIN theme_seen s ON s.mention_id = m.mention_id
        WHERE tm.run_id = $previous AND NOT {_IS_NEW}
        QUALIFY row_number() OVER (PARTITION BY tm.theme_id ORDER BY tm.similarity DESC, tm.mention_id) <= $sample
        ORDER BY tm.theme_id, tm.similarity DESC, tm.mention_id
        """,
        _params(ctx, previous=previous_run, sample=KEYWORD_SAMPLE),
    )
    while chunk := rows.fetchmany(TEXT_BATCH):
        for theme_id, title, text in chunk:
            texts[theme_id].append(mention_body(title, text))
    joined = {str(m): str(t) for m, t in zip(batch.mention_ids, themes_of, strict=True) if t}
    if joined:
        rows = _sql(
            con,
            "SELECT mention_id, title, text FROM mentions WHERE list_contains($ids::VARCHAR[], mention_id) "
            "ORDER BY mention_id",
            {"ids": sorted(joined)},
        )
        while chunk := rows.fetchmany(TEXT_BATCH):
            for mention_id, title, text in chunk:
                texts[joined[mention_id]].append(mention_body(title, text))
    return texts


def _refit_run(
    ctx: RunContext, model: str, facts: Facts, decision: Decision, previous: _Previous, settings: Any
) -> dict[str, Any]:
    """Recluster every embedded mention, then keep identities and record lineage."""
    from models.clustering import NOISE
    from models.clustering import cluster as fit
    from models.identity import reconcile
    from models.keywords import label_from_keywords, theme_keywords
    from models.quotes import representative

    with reader(ctx.paths.warehouse) as con:
        corpus = _read_batch(con, ctx, model, previous.run_id, only_new=False)
    result = fit(corpus.vectors, settings)
    # Clusters that kept no member are dropped; the rest are numbered 0..k-1 in their original order.
    present = np.unique(result.labels[result.labels != NOISE]).astype(np.int64)
    renumber = np.full(len(result.centroids) + 1, NOISE, dtype=np.int64)  # index -1 (noise) stays noise
    renumber[present] = np.arange(len(present))
    labels = renumber[np.asarray(result.labels, dtype=np.int64)]
    centroids, coherence = result.centroids[present], result.coherence[present]
    reduced = np.asarray(result.reduced_centroids)
    reduced = reduced[present] if len(reduced) == len(result.centroids) else None
    projection = result.projection
    members: dict[int, np.ndarray] = {}
    for label in range(len(present)):
        idx = np.flatnonzero(labels == label)
        members[label] = idx[np.argsort(-result.similarity[idx], kind="stable")]  # most central first
    parent_index = {theme_id: j for j, theme_id in enumerate(previous.theme_ids)}
    parents = np.fromiter((parent_index.get(t, -1) for t in corpus.previous), dtype=np.int64, count=len(corpus))
    identities = reconcile(
        labels,
        parents,
        previous.theme_ids,
        centroids,
        previous.centroids if len(previous.theme_ids) else None,
        [[str(m) for m in corpus.mention_ids[idx[:8]]] for _, idx in sorted(members.items())],
    )
    theme_ids = identities.ids
    keywords = theme_keywords(_member_texts(ctx, corpus, labels))
    quote_count = ctx.market.report.quotes_per_theme
    themes_rows, quote_rows, centroid_rows = [], [], []
    for cluster_index, idx in sorted(members.items()):
        theme_id = theme_ids[cluster_index]
        words = keywords.get(cluster_index, [])
        centroid = centroids[cluster_index]
        themes_rows.append(
            (theme_id, label_from_keywords(words), words, model, centroid, len(idx), float(coherence[cluster_index]))
        )
        centroid_rows.append((ctx.run_id, theme_id, centroid, None if reduced is None else reduced[cluster_index]))
        in_order = np.sort(idx)  # mention-id order, as quotes were always picked
        picked = representative(
            result.similarity[in_order], corpus.sources[in_order], n=quote_count, vectors=corpus.vectors[in_order]
        )
        quote_rows += [(ctx.run_id, theme_id, rank, corpus.mention_ids[in_order[p]]) for rank, p in enumerate(picked)]
    placed = (
        (m, h, theme_ids[label] if label != NOISE else None, float(s) if label != NOISE else None)
        for m, h, label, s in zip(corpus.mention_ids, corpus.hashes, labels, result.similarity, strict=True)
    )
    lineage_rows = [(ctx.run_id, link.parent, link.child, link.kind, link.share) for link in identities.lineage]
    kinds: dict[str, int] = defaultdict(int)
    for link in identities.lineage:
        kinds[link.kind] += 1
    details = _details(
        replace(facts, mentions=len(corpus)), decision, model, len(themes_rows),
        int(np.sum(labels != NOISE)), assigned_new=None, fit_run_id=ctx.run_id, lineage=dict(sorted(kinds.items())),
    )  # fmt: skip
    p = _params(ctx)
    with writer(ctx.paths.warehouse) as con, transaction(con):
        con.execute("UPDATE themes SET active = FALSE WHERE active")
        with staged(con, "staged_themes", _THEME, themes_rows):
            upsert(
                con,
                "themes",
                "SELECT *, $run AS first_seen_run, $run AS last_seen_run, TRUE AS active FROM staged_themes",
                ["theme_id"],
                ["label", "keywords", "model", "centroid", "size", "coherence", "last_seen_run", "active"],
                p,
            )
        _sql(con, "DELETE FROM theme_centroids WHERE fit_run_id = $run", p)
        with staged(con, "staged_centroids", _CENTROID, centroid_rows):
            con.execute("INSERT INTO theme_centroids SELECT * FROM staged_centroids")
        upsert(
            con,
            "theme_projections",
            "SELECT $run AS fit_run_id, $mean::FLOAT[] AS mean, $components::FLOAT[] AS components, "
            "$rows::INTEGER AS rows",
            ["fit_run_id"],
            ["mean", "components", "rows"],
            _params(
                ctx,
                mean=np.asarray(projection.mean, dtype=np.float32).tolist(),
                components=np.asarray(projection.components, dtype=np.float32).ravel().tolist(),
                rows=int(projection.components.shape[0]) if projection.components.size else 0,
            ),
        )
        _sql(con, "DELETE FROM theme_members WHERE run_id = $run", p)
        with staged(con, "staged_placed", _PLACED, placed):
            _sql(
                con,
                "INSERT INTO theme_members SELECT $run, mention_id, theme_id, similarity FROM staged_placed "
                "WHERE theme_id IS NOT NULL",
                p,
            )
            _mark_seen(con, p)
        _sql(con, "DELETE FROM theme_quotes WHERE run_id = $run", p)
        with staged(con, "staged_quotes", _QUOTE, quote_rows):
            con.execute("INSERT INTO theme_quotes SELECT * FROM staged_quotes")
        _sql(con, "DELETE FROM theme_lineage WHERE run_id = $run", p)
        with staged(con, "staged_lineage", _LINEAGE, lineage_rows):
            con.execute("INSERT INTO theme_lineage SELECT * FROM staged_lineage")
        _record(con, ctx, details)
    return details


def _member_texts(ctx: RunContext, corpus: _Batch, labels: np.ndarray) -> dict[int, list[str]]:
    """Texts of the members of each cluster, in mention-id order, streamed: unassigned texts are skipped."""
    cluster_of = {str(m): int(label) for m, label in zip(corpus.mention_ids, labels, strict=True) if label >= 0}
    texts: dict[int, list[str]] = defaultdict(list)
    with reader(ctx.paths.warehouse) as con:
        rows = con.execute("SELECT mention_id, title, text FROM mentions ORDER BY mention_id")
        while chunk := rows.fetchmany(TEXT_BATCH):
            for mention_id, title, text in chunk:
                label = cluster_of.get(mention_id)
                if label is not None:
                    texts[label].append(mention_body(title, text))
    return texts


def _mark_seen(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
    """Record that this run placed the staged mentions (in a theme or not), with the text it saw."""
    upsert(
        con,
        "theme_seen",
        "SELECT mention_id, content_hash, $run AS first_run_id FROM staged_placed",
        ["mention_id"],
        {
            "first_run_id": "CASE WHEN theme_seen.content_hash = excluded.content_hash THEN theme_seen.first_run_id "
            "ELSE excluded.first_run_id END",
            "content_hash": "excluded.content_hash",
        },
        {"run": params["run"]},
    )


def _details(
    facts: Facts,
    decision: Decision,
    model: str,
    themes: int,
    members: int,
    assigned_new: int | None,
    fit_run_id: str | None,
    lineage: dict[str, int],
) -> dict[str, Any]:
    unassigned = max(0, facts.mentions - int(members))
    return {
        "mode": decision.mode,
        "reason": decision.reason,
        "mentions": facts.mentions,
        "new_mentions": facts.new_mentions,
        "assigned_new": assigned_new,
        "themes": themes,
        "unassigned": unassigned,
        "noise_share": round(unassigned / facts.mentions, 4) if facts.mentions else 0.0,
        "model": model,
        "settings": facts.fingerprint,
        "fit_run_id": fit_run_id,
        "lineage": lineage,
    }


def _record(con: duckdb.DuckDBPyConnection, ctx: RunContext, details: dict[str, Any]) -> None:
    """The ``theme_fits`` row and the ``runs`` row of this run, in the caller's transaction."""
    upsert(
        con,
        "theme_fits",
        """
        SELECT $run::VARCHAR AS run_id, $mode::VARCHAR AS mode, $reason::VARCHAR AS reason, $model::VARCHAR AS model,
            $settings::VARCHAR AS settings_fingerprint, $mentions::INTEGER AS mentions, $new::INTEGER AS new_mentions,
            $assigned::INTEGER AS assigned_new, $unassigned::INTEGER AS unassigned,
            $share::DOUBLE AS unassigned_share, $themes::INTEGER AS themes, $fit::VARCHAR AS refit_run_id,
            $at::TIMESTAMPTZ AS fitted_at
        """,
        ["run_id"],
        ["mode", "reason", "model", "settings_fingerprint", "mentions", "new_mentions", "assigned_new", "unassigned",
         "unassigned_share", "themes", "refit_run_id", "fitted_at"],
        _params(
            ctx, mode=details["mode"], reason=details["reason"], model=details["model"],
            settings=details["settings"], mentions=details["mentions"], new=details["new_mentions"],
            assigned=details["assigned_new"], unassigned=details["unassigned"], share=details["noise_share"],
            themes=details["themes"], fit=details["fit_run_id"],
        ),
    )  # fmt: skip
    record_run(con, ctx.run_id, "themes", ctx.run_at, datetime.now(UTC), "success", details)
