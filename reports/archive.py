"""The report archive: every run's report kept in ``<reports>/<run>/``, and an index page listing them.

Each report leaves a small ``summary.json`` beside it (date, period, headline figures, validated hypotheses),
so the index is rebuilt from the folder alone, newest first, without reading the warehouse or parsing
reports. Reports written before summaries existed are still listed, with their figures unknown. Links to
sales briefs appear when the brief's file exists (``<reports>/briefs/<hypothesis id>/brief.html``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reports.content import ReportContent

SUMMARY_FILE = "summary.json"
SUMMARY_VERSION = 1
BRIEFS_FOLDER = "briefs"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
"""A folder name safe to put in a link as it is (run folders come from ``safe_run_id``, ids are ``h_<hex>``)."""


def brief_href(hypothesis_id: str) -> str | None:
    """Where a hypothesis's sales brief lives, relative to the reports folder; None for an id unsafe in a path."""
    return f"{BRIEFS_FOLDER}/{hypothesis_id}/brief.html" if _SAFE_NAME.fullmatch(hypothesis_id) else None


def existing_brief(folder: Path, hypothesis_id: str) -> str | None:
    """:func:`brief_href` when that file exists under ``folder``, else None (the brief is not written yet)."""
    href = brief_href(hypothesis_id)
    return href if href is not None and (folder / href).is_file() else None


def summary_of(content: ReportContent) -> dict[str, Any]:
    """The headline figures of a report, as written to ``<run>/summary.json`` for the archive index."""
    from reports.render import safe_run_id

    rising = [t for t in content.themes if t.overall and t.overall.trend in ("rising", "new")]
    return {
        "version": SUMMARY_VERSION,
        "run_id": content.run_id,
        "folder": safe_run_id(content.run_id),
        "title": content.title,
        "company": content.company,
        "generated_at": content.generated_at.isoformat(),
        "themes_run": content.themes_run,
        "period_start": content.period_start.isoformat() if content.period_start else None,
        "mentions": content.total_mentions,
        "mentions_in_period": content.mentions_in_period,
        "themes": len(content.themes) if content.themes_total is None else content.themes_total,
        "rising": len(rising),
        "emerging": sum(1 for t in content.themes if t.overall and t.overall.emerging),
        "top_themes": [t.label for t in content.themes[:5]],
        "hypotheses": {
            "to_test": len(content.test_first),
            "testing": len(content.under_test),
            "validated": len(content.validated),
            "closed": len(content.closed),
        },
        "validated": [
            {
                "hypothesis_id": h.hypothesis_id,
                "statement": h.statement,
                "audience_label": h.audience_label,
                "theme_label": h.theme_label,
                "status": h.status,
            }
            for h in content.validated
        ],
        "failing_sources": [s.source_id for s in content.sources if s.status == "failing"],
    }


@dataclass(frozen=True)
class BriefLink:
    hypothesis_id: str
    statement: str
    href: str | None  # relative to the reports folder; None when the brief is not written yet


@dataclass(frozen=True)
class ArchiveEntry:
    """One report in the archive, as its summary describes it (figures None when it has no summary)."""

    folder: str
    run_id: str
    generated_at: datetime | None
    title: str = ""
    company: str = ""
    period_start: datetime | None = None
    mentions: int | None = None
    mentions_in_period: int | None = None
    themes: int | None = None
    rising: int | None = None
    to_test: int | None = None
    testing: int | None = None
    validated: int | None = None
    failing_sources: list[str] = field(default_factory=list)
    top_themes: list[str] = field(default_factory=list)
    briefs: list[BriefLink] = field(default_factory=list)
    has_markdown: bool = False

    @property
    def html_href(self) -> str:
        return f"{self.folder}/report.html"

    @property
    def markdown_href(self) -> str:
        return f"{self.folder}/report.md"


def read_entries(folder: Path) -> list[ArchiveEntry]:
    """Every report under ``folder`` (a run folder holding ``report.html``), newest first."""
    entries = []
    for run_folder in folder.iterdir() if folder.is_dir() else []:
        if not run_folder.is_dir() or run_folder.name == BRIEFS_FOLDER or not _SAFE_NAME.fullmatch(run_folder.name):
            continue
        report = run_folder / "report.html"
        if report.is_file():
            entries.append(_entry(folder, run_folder, report))
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(entries, key=lambda e: (e.generated_at or epoch, e.folder), reverse=True)


def _entry(folder: Path, run_folder: Path, report: Path) -> ArchiveEntry:
    """An entry from the run's summary; a missing or unreadable one still lists the report, by file time."""
    has_markdown = (run_folder / "report.md").is_file()
    try:
        data = json.loads((run_folder / SUMMARY_FILE).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        written = datetime.fromtimestamp(report.stat().st_mtime, tz=UTC)
        return ArchiveEntry(run_folder.name, run_folder.name, written, has_markdown=has_markdown)
    hypotheses = data.get("hypotheses") if isinstance(data.get("hypotheses"), dict) else {}
    briefs = [
        BriefLink(str(h.get("hypothesis_id", "")), str(h.get("statement", "")),
                  existing_brief(folder, str(h.get("hypothesis_id", ""))))
        for h in _list(data.get("validated"))
        if isinstance(h, dict)
    ]  # fmt: skip
    return ArchiveEntry(
        folder=run_folder.name,
        run_id=str(data.get("run_id") or run_folder.name),
        generated_at=_moment(data.get("generated_at")),
        title=str(data.get("title") or ""),
        company=str(data.get("company") or ""),
        period_start=_moment(data.get("period_start")),
        mentions=_int(data.get("mentions")),
        mentions_in_period=_int(data.get("mentions_in_period")),
        themes=_int(data.get("themes")),
        rising=_int(data.get("rising")),
        to_test=_int(hypotheses.get("to_test")),
        testing=_int(hypotheses.get("testing")),
        validated=_int(hypotheses.get("validated")),
        failing_sources=[str(s) for s in _list(data.get("failing_sources"))],
        top_themes=[str(t) for t in _list(data.get("top_themes"))],
        briefs=briefs,
        has_markdown=has_markdown,
    )


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def render_index_html(entries: list[ArchiveEntry]) -> str:
    """The archive page: self-contained like the reports, every report linked, newest first."""
    from reports.render import _environment

    return _environment().get_template("archive.html.j2").render(entries=entries, **_heading(entries))


def render_index_markdown(entries: list[ArchiveEntry]) -> str:
    """The archive as a Markdown table, for wikis and terminals."""
    from reports.render import _md_local_link, _md_table, format_number, format_utc, markdown_text

    heading = _heading(entries)
    lines = [f"# {markdown_text(heading['title'])}"]
    if heading["company"]:
        lines.append(markdown_text(heading["company"]))
    if not entries:
        return "\n\n".join([*lines, "_No reports yet._"]) + "\n"

    def figure(value: int | None) -> str:
        return "—" if value is None else format_number(value)

    rows = []
    for entry in entries:
        links = _md_local_link("HTML", entry.html_href)
        if entry.has_markdown:
            links += " · " + _md_local_link("Markdown", entry.markdown_href)
        briefs = ", ".join(
            _md_local_link(f"brief {b.hypothesis_id}", b.href)
            if b.href
            else markdown_text(f"{b.hypothesis_id} (no brief yet)")
            for b in entry.briefs
        )
        rows.append(
            [format_utc(entry.generated_at), markdown_text(entry.run_id), figure(entry.mentions), figure(entry.themes),
             figure(entry.validated), briefs or "—", links]
        )  # fmt: skip
    table = _md_table(
        ["Generated", "Run", "Mentions", "Themes", "Validated", "Sales briefs", "Report"], rows, frozenset({2, 3, 4})
    )
    return "\n\n".join([*lines, _md_local_link("Latest report", "latest.md"), table]) + "\n"


def _heading(entries: list[ArchiveEntry]) -> dict[str, str]:
    """The archive's title and company, from the newest report that names them."""
    named = next((e for e in entries if e.title), None)
    return {
        "title": f"{named.title}: all reports" if named else "earshot: all reports",
        "company": named.company if named else "",
    }


def write_index(folder: Path) -> tuple[Path, Path]:
    """(Re)write ``<folder>/index.html`` and ``index.md`` from the run folders; each replaced atomically."""
    from reports.render import write_atomically

    entries = read_entries(folder)
    html, markdown = render_index_html(entries), render_index_markdown(entries)
    paths = (folder / "index.html", folder / "index.md")
    for path, text in zip(paths, (html, markdown), strict=True):
        write_atomically(path, text)
    return paths
