"""market.yaml validation: errors name the file, the field and why."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from earshot.cli import main
from earshot.config import ConfigError, load_market, parse_market

VALID = {
    "company": {"name": "Vaultline"},
    "offer": {"summary": "Backups MSPs resell"},
    "audiences": {"customers": {}, "customers_customers": {}, "influencers": {}},
    "sources": [{"id": "msp-forum", "kind": "feed", "audience": "customers", "url": "http://127.0.0.1:1/f.xml"}],
}


def with_source(**changes: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(VALID))
    data["sources"][0].update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (with_source(audience="customer"), "sources[0].audience: Input should be"),
        (with_source(kind="rss"), "sources[0]"),
        (with_source(url="ftp://example.com/feed"), "sources[0].url: must be an http(s) URL"),
        (with_source(id="Bad Id!"), "sources[0].id: String should match pattern"),
        (with_source(colour="red"), "sources[0].colour: unknown field"),
        ({**VALID, "audiences": {"customers": {}, "influencers": {}}}, "missing customers_customers"),
        ({**VALID, "sources": VALID["sources"] * 2}, "sources[1].id: 'msp-forum' is used twice"),
        ({**VALID, "sources": []}, "sources: List should have at least 1 item"),
        (
            {
                **VALID,
                "audiences": {"customers": {}, "customers_customers": {}, "influencers": {}},
                "sources": [{**VALID["sources"][0], "audience": "competitors"}],
            },
            "sources[0].audience: 'competitors' is not declared under audiences",
        ),
        ({k: v for k, v in VALID.items() if k != "company"}, "company: Field required"),
        (["not", "a", "mapping"], "expected a mapping"),
    ],
)
def test_invalid_plans_name_file_field_and_reason(data: object, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_market(data, Path("plans/market.yaml"))
    message = str(caught.value)
    assert message.startswith("plans/market.yaml: ")
    assert expected in message


def test_environment_references_are_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEED_BASE", "http://127.0.0.1:9")
    data = with_source(url="${FEED_BASE}/feed.xml")
    data["company"]["description"] = "${UNSET_FOR_TEST:-fallback text}"
    market = parse_market(data, Path("m.yaml"))
    assert market.sources[0].url == "http://127.0.0.1:9/feed.xml"
    assert market.company.description == "fallback text"


def test_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    with pytest.raises(ConfigError, match=r"m.yaml: sources\[0\].url: environment variable NOPE_NOT_SET is not set"):
        parse_market(with_source(url="${NOPE_NOT_SET}/x"), Path("m.yaml"))


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    path = tmp_path / "market.yaml"
    path.write_text("company:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"market.yaml: line \d+, column \d+: not valid YAML"):
        load_market(path)


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="earshot init"):
        load_market(tmp_path / "absent.yaml")


def test_init_writes_a_valid_commented_starter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "market.yaml"
    assert main(["init", str(target)]) == 0
    text = target.read_text()
    assert text.count("#") > 10  # commented for a marketing lead
    market = load_market(target)
    assert {s.audience.value for s in market.sources} == {"customers", "customers_customers", "influencers"}
    assert main(["init", str(target)]) == 1  # never overwrites silently
    assert "already exists" in capsys.readouterr().err


def test_cli_reports_config_errors_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "market.yaml"
    bad.write_text(yaml.safe_dump(with_source(audience="nobody")))
    assert main(["run", "--config", str(bad), "--stage", "listen"]) == 2
    assert f"{bad}: sources[0].audience" in capsys.readouterr().err


def test_relative_drop_folders_are_relative_to_the_plan(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(VALID))
    data["sources"].append(
        {
            "id": "surveys",
            "kind": "filedrop",
            "audience": "customers",
            "folder": "drops/surveys",
            "columns": {"text": "answer"},
        }
    )
    data["sources"].append(
        {
            "id": "abs",
            "kind": "filedrop",
            "audience": "customers",
            "folder": "/srv/drops",
            "columns": {"text": "answer"},
        }
    )
    (tmp_path / "plans").mkdir()
    path = tmp_path / "plans" / "market.yaml"
    path.write_text(yaml.safe_dump(data))
    market = load_market(path)
    assert market.source("surveys").folder == str(tmp_path / "plans" / "drops" / "surveys")
    assert market.source("abs").folder == "/srv/drops"
