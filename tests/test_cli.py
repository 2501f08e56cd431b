"""The command line as a user meets it: --version, grouped help with examples, help on every option, a bad
EARSHOT_HOME in one line, `earshot sources --config/--json`, and a sales brief without the feeds' variables."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from earshot.cli import COMMAND_GROUPS, build_parser, main
from earshot.config import UNSET_URL, ConfigError, load_market
from tests.conftest import LoopbackServer, Reply, rss
from tests.test_listen_stage import write_market

MARKUP = re.compile(r"``|:(func|class|data|meth|mod):|\[/?(bold|b|i|red|green)\]|\*\*|<[a-z]+>")


def earshot(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "earshot.cli", *argv],
        capture_output=True, text=True, check=False, timeout=120, env=env, cwd=cwd,
    )  # fmt: skip


def all_parsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(parser.prog, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += all_parsers(child)
    return found


def test_version() -> None:
    proc = earshot("--version")
    assert (proc.returncode, proc.stdout) == (0, f"earshot {metadata.version('earshot')}\n")


def test_help_groups_every_command_once_with_examples() -> None:
    proc = earshot("--help")
    assert proc.returncode == 0 and proc.stderr == ""
    text = proc.stdout
    for title, names in COMMAND_GROUPS:
        assert f"\n{title.lower()}:\n" in text
        block = text.split(f"\n{title.lower()}:\n")[1].split("\n\n")[0]
        assert [line.split()[0] for line in block.splitlines()] == list(names)
    listed = [name for _, names in COMMAND_GROUPS for name in names]
    assert len(listed) == len(set(listed))
    assert "examples:\n  earshot init market.yaml" in text
    assert "{run,sources" not in text  # no argparse choice dump
    assert MARKUP.search(text) is None, MARKUP.search(text)


def test_every_command_and_option_has_help_without_markup() -> None:
    missing, marked = [], []
    for prog, parser in all_parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{prog} {'/'.join(action.option_strings) or action.dest}")
            elif MARKUP.search(action.help):
                marked.append(f"{prog}: {action.help}")
        if parser.description and MARKUP.search(parser.description):
            marked.append(f"{prog}: {parser.description}")
    assert missing == []
    assert marked == []


def test_every_subcommand_help_has_examples() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {name for _, names in COMMAND_GROUPS for name in names}
    without = [
        name for name, sub in commands.items() if f"earshot {name}" not in (sub.epilog or "").split("examples:")[-1]
    ]
    assert without == []


@pytest.mark.parametrize("case", ["file", "under a file", "unwritable"])
def test_a_bad_earshot_home_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    if case == "file":
        home = tmp_path / "data"
        home.write_text("not a folder")
        expected = f"earshot: EARSHOT_HOME={home}: is a file, not a folder\n"
    elif case == "under a file":
        (tmp_path / "file").write_text("x")
        home = tmp_path / "file" / "data"
        expected = f"earshot: EARSHOT_HOME={home}: cannot be created: {tmp_path / 'file'} is a file\n"
    else:
        home = Path("/proc/earshot-data")  # not writable, even for root
        expected = "earshot: EARSHOT_HOME=/proc/earshot-data: cannot write in /proc ("
    env = {**os.environ, "EARSHOT_HOME": str(home)}
    for argv in (["run", "--stage", "listen"], ["sources"], ["hypotheses", "list"]):
        proc = earshot(*argv, env=env, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(expected) and proc.stderr.count("\n") == 1, proc.stderr  # no traceback


def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = earshot("sources", env={**os.environ, "EARSHOT_HOME": str(tmp_path), "EARSHOT_WAREHOUSE_LOCK_WAIT": "soon"})
    assert proc.returncode == 2
    assert proc.stderr.startswith("earshot: EARSHOT_WAREHOUSE_LOCK_WAIT='soon': ") and proc.stderr.count("\n") == 1


def test_sources_lists_the_plan_and_the_warehouse_as_a_table_or_json(
    tmp_path: Path, http_server: LoopbackServer, earshot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = {"Content-Type": "application/rss+xml"}
    http_server.routes["/ok.xml"] = Reply(200, rss([{"guid": "1", "title": "Restores are slow"}]), feed)
    http_server.routes["/gone.xml"] = Reply(404)
    heard = write_market(tmp_path / "heard.yaml", http_server, {"ok": "/ok.xml", "gone": "/gone.xml"})
    assert main(["run", "--stage", "listen", "--config", str(heard)]) == 3
    capsys.readouterr()

    plan = yaml.safe_load(heard.read_text())
    plan["sources"].append({"id": "later", "kind": "feed", "audience": "influencers", "url": http_server.url("/l")})
    bigger = tmp_path / "market.yaml"
    bigger.write_text(yaml.safe_dump(plan))

    assert main(["sources", "--config", str(bigger), "--json"]) == 0
    out, _ = capsys.readouterr()
    rows = {row["source_id"]: row for row in json.loads(out)}
    assert set(rows) == {"ok", "gone", "later"}
    assert (rows["ok"]["status"], rows["ok"]["items_last_run"], rows["ok"]["items_total"]) == ("ok", 1, 1)
    assert (rows["gone"]["status"], rows["gone"]["last_error_kind"]) == ("error", "http_4xx")
    assert rows["later"]["status"] == "never fetched"
    assert rows["ok"]["last_success_at"] is not None and rows["later"]["last_success_at"] is None

    assert main(["sources", "--config", str(bigger)]) == 0
    table, _ = capsys.readouterr()
    assert table.splitlines()[0].split() == ["source", "kind", "audience", "status", "last", "run", "total", "fails",
                                            "last", "success", "last", "error"]  # fmt: skip
    assert any(line.startswith("later ") and "never fetched" in line for line in table.splitlines())

    assert main(["sources", "--json"]) == 0  # no plan given and none in the working folder: the warehouse's
    assert {row["source_id"] for row in json.loads(capsys.readouterr()[0])} == {"ok", "gone"}


def test_a_plan_loaded_for_a_brief_needs_no_feed_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDS_BASE", raising=False)
    plan = {
        "company": {"name": "Testco"},
        "offer": {"summary": "Backups"},
        "audiences": {"customers": {}, "customers_customers": {}, "influencers": {}},
        "sources": [
            {"id": "blog", "kind": "feed", "audience": "customers", "name": "The blog", "url": "${FEEDS_BASE}/b.xml"},
            {"id": "news", "kind": "feed", "audience": "influencers", "url": "https://news.example/feed"},
        ],
    }
    path = tmp_path / "market.yaml"
    path.write_text(yaml.safe_dump(plan))
    with pytest.raises(ConfigError, match="environment variable FEEDS_BASE is not set"):
        load_market(path)  # fetching needs it
    market = load_market(path, fetching=False)
    blog, news = market.sources
    assert (blog.name, blog.enabled, blog.url) == ("The blog", False, f"{UNSET_URL}/b.xml")  # kept, never fetched
    assert (news.enabled, news.url) == (True, "https://news.example/feed")
