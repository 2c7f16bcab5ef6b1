"""The sources file: parsed with libyaml's safe loader, errors that name the file, the line or the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pmon.cli.main import app
from pmon.schemas.codebook import DEFAULT_CODEBOOK
from pmon.schemas.sources import SourcesFileError, load_sources
from pmon.schemas.yaml_text import SAFE_LOADER, parse_yaml

GOOD = """\
sources:
  - id: tg-news
    kind: feed
    location: https://news.example/rss.xml
    expected_langs: [tg]
    tags: [news, "quoted: colon"]
    schedule: 1h
  - {id: drop, kind: jsonl, location: drops/batch.jsonl, enabled: false}   # relative: resolved against the file
"""


def test_the_c_loader_reads_what_the_python_loader_reads() -> None:
    assert SAFE_LOADER is yaml.CSafeLoader  # PyYAML's wheels bundle libyaml; without it every run parses slowly
    assert parse_yaml(GOOD) == yaml.safe_load(GOOD)
    codebook = (Path(DEFAULT_CODEBOOK) / "exemplars" / "tg-cyrl.yaml").read_text(encoding="utf-8")
    assert parse_yaml(codebook) == yaml.safe_load(codebook)
    with pytest.raises(yaml.constructor.ConstructorError):  # still a safe loader: no Python objects
        parse_yaml("!!python/object/apply:os.system ['true']")


def test_a_good_file_is_read_and_local_paths_resolved(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD, encoding="utf-8")
    parsed = load_sources(path)
    assert [s.id for s in parsed.sources] == ["tg-news", "drop"]
    assert parsed.sources[0].tags == ["news", "quoted: colon"] and parsed.sources[0].schedule == "1h"
    assert parsed.sources[1].location == str(tmp_path / "drops" / "batch.jsonl") and not parsed.sources[1].enabled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources:\n  - id: a\n    kind: feed\n   location: [unclosed\n", ["not valid YAML", "line"]),
        ("sources:\n  - {id: a, kind: podcast, location: x}\n", ["source #1 ('a') field 'kind'"]),
        ("sources:\n  - {id: Bad Id, kind: feed, location: x}\n", ["field 'id'", "lowercase"]),
        ("sources:\n  - {id: a, kind: feed, location: x, expected_langs: [xx]}\n", ["unknown language"]),
    ],
)
def test_a_bad_file_names_the_problem(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourcesFileError) as caught:
        load_sources(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and all(part in message for part in expected), message
    result = CliRunner().invoke(app, ["sources", "validate", "--config", str(path)])
    assert result.exit_code == 1 and "error" in result.output


# -- #14: what `pmon sources validate` used to call ok ------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{id: a, kind: feed, location: 'https://x.example/rss', schedule: '61 * * * *'}",
         ["source #1 ('a') field 'schedule'", "minute field '61'", "from 0 to 59"]),
        ("{id: a, kind: feed, location: 'https://x.example/rss', schedule: '0 25 * * *'}", ["hour field '25'"]),
        ("{id: a, kind: feed, location: 'https://x.example/rss', schedule: '0 0 * 13 *'}", ["month field '13'"]),
        ("{id: a, kind: feed, location: 'https://x.example/rss', schedule: '*/0 * * * *'}", ["step '0'"]),
        ("{id: a, kind: feed, location: 'https://x.example/rss', schedule: 0s}",
         ["field 'schedule'", "'0s' is out of range", "from 10s to 365d"]),
        ("{id: a, kind: feed, location: 'https://x.example/rss', schedule: 10000d}",
         ["field 'schedule'", "'10000d' is out of range", "from 10s to 365d"]),
        ("{id: a, kind: feed, location: 'ftp://x.example/rss'}",
         ["source #1 ('a') field 'location'", "scheme 'ftp'", "only http(s) URLs or local paths"]),
        ("{id: a, kind: jsonl, location: 'file:///etc/passwd'}",
         ["field 'location'", "scheme 'file'", "write its path (/etc/passwd)"]),
        ("{id: a, kind: html, location: 'https://x.example/', pages: ['gopher://x.example/1']}",
         ["field 'pages'", "scheme 'gopher'"]),
        ("{id: a, kind: feed, locaton: 'https://x.example/rss'}",
         ["source #1 ('a') field 'locaton'", "did you mean 'location'?"]),
        ("{id: a, kind: feed, location: 'https://x.example/rss', shedule: 1h}", ["did you mean 'schedule'?"]),
    ],
)
def test_validate_refuses_what_it_used_to_call_ok(tmp_path: Path, source: str, expected: list[str]) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  - {source}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["sources", "validate", "--config", str(path)])
    assert result.exit_code == 1, result.output
    assert all(part in result.output for part in expected), result.output
    assert "Traceback" not in result.output


def test_a_top_level_key_typo_gets_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sourcse:\n  - {id: a, kind: feed, location: 'https://x.example/rss'}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["sources", "validate", "--config", str(path)])
    assert result.exit_code == 1 and "did you mean 'sources'?" in result.output, result.output


@pytest.mark.parametrize("kind", ["jsonl", "csv", "telegram"])
def test_validate_refuses_a_missing_drop_file_relative_or_absolute(tmp_path: Path, kind: str) -> None:
    absolute = tmp_path / "elsewhere" / f"gone.{kind}"
    path = tmp_path / "sources.yaml"
    path.write_text(
        f"sources:\n  - {{id: rel, kind: {kind}, location: drops/missing.{kind}}}\n"
        f"  - {{id: abs, kind: {kind}, location: '{absolute}'}}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["sources", "validate", "--config", str(path)])
    assert result.exit_code == 1, result.output
    assert "source #1 ('rel') field 'location': no such file" in result.output, result.output
    assert f"'drops/missing.{kind}' resolves against {tmp_path}" in result.output, result.output
    assert f"source #2 ('abs') field 'location': no such file {absolute}" in result.output, result.output
    # The files arrive (a Telegram export folder holds result.json): now it is ok.
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / f"missing.{kind}").write_text("{}\n", encoding="utf-8")
    if kind == "telegram":
        absolute.mkdir(parents=True)
        (absolute / "result.json").write_text("{}", encoding="utf-8")
    else:
        absolute.parent.mkdir()
        absolute.write_text("{}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["sources", "validate", "--config", str(path)])
    assert result.exit_code == 0 and "ok" in result.output, result.output


@pytest.mark.parametrize(
    "source",
    [
        "{id: a, kind: feed, location: 'https://x.example/rss', schedule: 10s}",
        "{id: a, kind: feed, location: 'https://x.example/rss', schedule: 365d}",
        "{id: a, kind: feed, location: 'http://127.0.0.1:8731/rss', schedule: '*/15 9-17 * jan-jun mon-fri'}",
        "{id: a, kind: feed, location: 'https://x.example/rss', schedule: '0,30 0 1,15 * 7'}",
        "{id: a, kind: jsonl, location: drops/later.jsonl, enabled: false}",  # disabled: its file may come later
    ],
)
def test_validate_still_accepts_good_sources(tmp_path: Path, source: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  - {source}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["sources", "validate", "--config", str(path)])
    assert result.exit_code == 0, result.output
