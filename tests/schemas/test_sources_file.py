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
