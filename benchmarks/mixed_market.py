"""A mixed market from public labelled data, run through earshot's real stages.

    python -m benchmarks.mixed_market ../shared/eval --home /tmp/market [--scale 0.5] [--seed 1] [--undated]
        [--plant requests:balance:2] [--cache /tmp/embedding-cache.duckdb] [--report]

Each corpus becomes a file-drop source that speaks for one audience and imitates one source kind (support
tickets with out-of-scope noise, review sentences, short chatter, makers' and pundits' long-form news), so a
market mixes lengths, registers and audiences the way a real one does. The vendor is a support-automation
company whose buyers are the app and bank teams (``customers``) and whose buyers serve consumers
(``customers_customers``). Mentions are dated uniformly over ``--weeks`` before ``--now`` (no trend), unless
``--plant SOURCE:LABEL:FACTOR`` multiplies one label's rate in the last 7 days, or ``--undated`` drops every
date (a back-filled export). The gold labels go to ``gold.jsonl`` beside ``market.yaml``, keyed by mention id.

Stages run in-process with a fixed run time, the same functions the DAG tasks call. ``--cache`` keeps
embeddings in a DuckDB file shared between markets, so re-running a market (or another mix of the same
texts) costs only clustering.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
"""The default run time: fixed, so a market and its figures are reproducible whatever the date."""


@dataclass(frozen=True)
class Slice:
    """One source of the market: ``n`` texts of a corpus (optionally only some labels)."""

    source_id: str
    corpus: str  # path under the eval folder
    audience: str
    kind: str  # the kind of source it imitates: ticket, review, chatter, blog, news
    n: int
    name: str
    labels: tuple[str, ...] = ()  # keep only these gold labels (empty: all)
    influencer: bool = False


DEFAULT_MIX: tuple[Slice, ...] = (
    Slice("requests", "corpora/clinc150.jsonl", "customers_customers", "ticket", 4000,
          "Help-desk export: consumer requests (with out-of-scope noise)"),
    Slice("reviews", "sentiment/rt_polarity.jsonl", "customers_customers", "review", 2000,
          "Review sentences, positive and negative"),
    Slice("chatter", "corpora/tweet.jsonl", "customers_customers", "chatter", 2472, "Short public posts"),
    Slice("makers", "corpora/agnews.jsonl", "customers", "blog", 2000, "Trade press read and written by app teams",
          labels=("Business", "Sci/Tech")),
    Slice("press", "corpora/googlenews.jsonl", "influencers", "news", 3000, "News the market follows",
          influencer=True),
    Slice("wire", "corpora/agnews.jsonl", "influencers", "news", 1000, "General news wire",
          labels=("World", "Sports"), influencer=True),
)  # fmt: skip

COMPANY = {
    "name": "Helpline",
    "description": "Support automation for consumer apps and banks: routine requests answered instantly, "
    "everything else routed to the right agent, and what users say in reviews and posts turned into fixes.",
}
OFFER = {
    "summary": "A support assistant and review intelligence that app and bank teams deploy in weeks.",
    "benefits": [
        "Routine requests (balances, transfers, card problems, bookings, account changes) answered instantly, "
        "day and night, without a queue.",
        "Every complaint from reviews and public posts grouped into themes, so product teams fix what users "
        "actually hit first.",
        "Support costs fall as automation handles the repetitive questions while agents keep the hard cases.",
        "Answers in the user's language, with translations and local phrasing for customers abroad.",
    ],
}
AUDIENCES = {
    "customers": "Product, support and CX leads at consumer apps and retail banks: the teams that buy Helpline.",
    "customers_customers": "The consumers those apps and banks serve: people asking for help, reviewing, posting.",
    "influencers": "News and trade press that both groups read.",
}


@dataclass(frozen=True)
class Plant:
    """A rise planted in one label of one source: ``factor`` times the usual rate in the last 7 days."""

    source_id: str
    label: str
    factor: float

    @classmethod
    def parse(cls, text: str) -> Plant:
        source_id, label, factor = text.rsplit(":", 2) if text.count(":") >= 2 else (text, "", "")
        if not label or not factor:
            raise argparse.ArgumentTypeError(f"--plant {text!r}: expected SOURCE:LABEL:FACTOR")
        return cls(source_id, label, float(factor))


@dataclass
class Market:
    """What was built: where it lives and the gold label of every mention."""

    home: Path
    config: Path
    now: datetime
    slices: tuple[Slice, ...]
    gold: dict[str, dict[str, str]] = field(default_factory=dict)  # mention id -> corpus, label, source, ...

    def env(self) -> dict[str, str]:
        return {"EARSHOT_HOME": str(self.home), "EARSHOT_CONFIG": str(self.config)}


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _dates(rng: random.Random, count: int, now: datetime, weeks: int, factor: float = 1.0) -> list[datetime]:
    """``count`` moments over ``weeks`` before ``now``; with ``factor`` != 1 the last 7 days carry ``factor``
    times the density of the weeks before (a planted rise), otherwise uniform (no trend)."""
    span = timedelta(weeks=weeks).total_seconds()
    recent = timedelta(days=7).total_seconds()
    recent_share = factor * recent / (factor * recent + (span - recent))
    out = []
    for _ in range(count):
        seconds = rng.uniform(0, recent) if rng.random() < recent_share else rng.uniform(recent, span)
        out.append(now - timedelta(seconds=seconds))
    return out


def build(
    eval_dir: Path,
    home: Path,
    slices: Sequence[Slice] = DEFAULT_MIX,
    *,
    scale: float = 1.0,
    seed: int = 0,
    now: datetime = NOW,
    weeks: int = 8,
    undated: bool = False,
    plant: Plant | None = None,
) -> Market:
    """Write the market's drop files, ``market.yaml`` and ``gold.jsonl`` under ``home``."""
    import yaml

    from listeners.mention import stable_id

    home.mkdir(parents=True, exist_ok=True)
    market = Market(home=home, config=home / "market.yaml", now=now, slices=tuple(slices))
    sources = []
    for number, piece in enumerate(slices):
        rng = random.Random(f"{seed}:{number}:{piece.source_id}")
        rows = [r for r in read_rows(eval_dir / piece.corpus) if not piece.labels or r["label"] in piece.labels]
        rng.shuffle(rows)
        rows = sorted(rows[: max(1, round(piece.n * scale))], key=lambda r: str(r["id"]))
        folder = home / "drops" / piece.source_id
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{piece.source_id}.jsonl").open("w", encoding="utf-8") as out:
            planted = plant is not None and plant.source_id == piece.source_id
            usual = [r for r in rows if not (planted and r["label"] == plant.label)]
            risen = [r for r in rows if planted and r["label"] == plant.label]
            dated = list(zip(usual, _dates(rng, len(usual), now, weeks), strict=True))
            if risen:
                dated += zip(risen, _dates(rng, len(risen), now, weeks, plant.factor), strict=True)
            for row, when in dated:
                record = {
                    "id": str(row["id"]),
                    "text": row["text"],
                    "author": f"{piece.source_id}-{rng.randrange(500)}",
                }
                if not undated:
                    record["date"] = when.isoformat()
                out.write(json.dumps(record) + "\n")
                market.gold[stable_id(piece.source_id, str(row["id"]))] = {
                    "corpus": Path(piece.corpus).stem, "label": str(row["label"]), "source_id": piece.source_id,
                    "audience": piece.audience, "kind": piece.kind,
                }  # fmt: skip
        columns = {"id": "id", "text": "text", "author": "author"} | ({} if undated else {"date": "date"})
        sources.append(
            {"id": piece.source_id, "kind": "filedrop", "audience": piece.audience, "name": piece.name,
             "influencer": piece.influencer, "folder": f"drops/{piece.source_id}", "pattern": "*.jsonl",
             "columns": columns}
        )  # fmt: skip
    plan = {
        "version": 1,
        "company": COMPANY,
        "offer": OFFER,
        "audiences": {name: {"description": text} for name, text in AUDIENCES.items()},
        "sources": sources,
        "report": {"title": "Helpline market report (public-data benchmark)"},
        "hypotheses": {
            "owner": "Benchmark",
            "audience_names": {
                "customers": "App and bank teams",
                "customers_customers": "Consumers",
                "influencers": "Press",
            },
        },
    }
    market.config.write_text(yaml.safe_dump(plan, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with (home / "gold.jsonl").open("w", encoding="utf-8") as out:
        for mention_id, gold in sorted(market.gold.items()):
            out.write(json.dumps({"mention_id": mention_id, **gold}) + "\n")
    (home / "slices.json").write_text(json.dumps([asdict(s) for s in slices], indent=1), encoding="utf-8")
    return market


def _with_cache(warehouse: Path, cache: Path, *, fill: bool) -> int:
    """Copy vectors between the warehouse and a shared cache file: into the warehouse before embedding
    (``fill=False``: only texts the warehouse holds), back into the cache after (``fill=True``)."""
    import duckdb

    from warehouse.connection import writer

    cache.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(cache)) as con:
        con.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (content_hash VARCHAR, model VARCHAR, dims INTEGER, "
            "vector FLOAT[], created_at TIMESTAMPTZ, PRIMARY KEY (content_hash, model))"
        )
    with writer(warehouse) as con:
        con.execute(f"ATTACH '{cache}' AS cache")
        try:
            if fill:
                sql = (
                    "INSERT OR IGNORE INTO cache.embeddings SELECT e.* FROM embeddings e "
                    "ANTI JOIN cache.embeddings c USING (content_hash, model)"
                )
            else:
                sql = (
                    "INSERT OR IGNORE INTO embeddings SELECT c.* FROM cache.embeddings c "
                    "SEMI JOIN (SELECT DISTINCT content_hash FROM mentions) m USING (content_hash)"
                )
            return int(con.execute(sql).fetchone()[0])
        finally:
            con.execute("DETACH cache")


def run(market: Market, stages: Iterable[str] = ("listen", "themes"), *, cache: Path | None = None,
        run_at: datetime | None = None, refit: bool = True) -> dict[str, Any]:  # fmt: skip
    """Run earshot's stages on the market in this process, at ``run_at`` (default: the market's ``now``)."""
    os.environ.update(market.env())
    from earshot import hypotheses, listen, report, themes, trends
    from earshot.runs import RunContext

    at = run_at or market.now
    ctx = RunContext.create(run_id=f"market__{at:%Y-%m-%dT%H:%M:%S}", run_at=at)
    out: dict[str, Any] = {}
    stages = tuple(stages)
    if "listen" in stages:
        out["listen"] = listen.listen(ctx, workers=4)
    if "themes" in stages:
        if cache is not None:
            out["cached_vectors"] = _with_cache(ctx.paths.warehouse, cache, fill=False)
        out["embed"] = themes.embed(ctx)
        if cache is not None:
            _with_cache(ctx.paths.warehouse, cache, fill=True)
        out["signals"] = themes.signals(ctx)
        out["cluster"] = themes.cluster(ctx, refit=refit)
        out["trends"] = trends.snapshot(ctx)
        out["hypotheses"] = hypotheses.propose_and_measure(ctx)
    if "report" in stages:
        out["report"] = report.report(ctx)
    return out


def load_market(home: Path) -> Market:
    """A market built earlier (its gold labels and slices read back)."""
    slices = tuple(Slice(**{**s, "labels": tuple(s["labels"])}) for s in json.loads((home / "slices.json").read_text()))
    gold = {row.pop("mention_id"): row for row in read_rows(home / "gold.jsonl")}
    return Market(home=home, config=home / "market.yaml", now=NOW, slices=slices, gold=gold)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("eval_dir", type=Path, help="the public evaluation data folder (corpora/, sentiment/)")
    parser.add_argument("--home", type=Path, required=True, help="the market's data directory (created)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every source's size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--undated", action="store_true", help="no dates: a back-filled export")
    parser.add_argument("--plant", type=Plant.parse, help="SOURCE:LABEL:FACTOR, a rise in the last 7 days")
    parser.add_argument("--cache", type=Path, help="shared embedding cache (a DuckDB file)")
    parser.add_argument("--report", action="store_true", help="write the report too")
    args = parser.parse_args(argv)
    market = build(args.eval_dir, args.home, scale=args.scale, seed=args.seed, weeks=args.weeks,
                   undated=args.undated, plant=args.plant)  # fmt: skip
    stages = ("listen", "themes", "report") if args.report else ("listen", "themes")
    summary = run(market, stages, cache=args.cache)
    print(json.dumps({"mentions": len(market.gold), **{k: v for k, v in summary.items() if k != "listen"}},
                     indent=1, default=str))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
