"""Codebook files generated in a second script from the hand-written ones in the first.

Uzbek is written once in Latin script and Uyghur once in Arabic script; their Cyrillic and Latin exemplars
(``codebooks/iskp/exemplars/``) and gold sets (``eval/narratives/``) are generated from those, so both scripts
carry the same sentences. `uz_transliterate` and `ug_transliterate` each describe one language with a
:class:`DerivedFiles` and run :func:`main`.

The output is stable to the byte for a given source and transliteration: the codebook fingerprint, stored with
every detection, covers the exemplar files.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXEMPLARS_DIR = ROOT / "codebooks" / "iskp" / "exemplars"
GOLD_DIR = ROOT / "eval" / "narratives"


class _IndentedDumper(yaml.SafeDumper):
    """Indents block sequences under their key, as the hand-written codebook files do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Sentences double-quoted, as in the hand-written files (apostrophes then need no escaping); keys and codes
    # (lang, script, narrative ids) plain.
    style = '"' if " " in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_IndentedDumper.add_representer(str, _represent_str)


def _map_texts(node: Any, convert: Callable[[str], str]) -> Any:
    if isinstance(node, str):
        return convert(node)
    if isinstance(node, list):
        return [_map_texts(item, convert) for item in node]
    if isinstance(node, dict):
        return {key: _map_texts(value, convert) for key, value in node.items()}
    return node


@dataclass(frozen=True)
class DerivedFiles:
    """One language's exemplars and gold set in a second script, and how they are made from the first.

    Attributes:
        module: the generator, as run with ``python -m`` (named in messages).
        lang: ISO 639-1 code; the files are ``<lang>-<script>.yaml`` and ``.jsonl``, script in lower case.
        source_script: ISO 15924 code of the hand-written files (``Latn``).
        target_script: ISO 15924 code of the generated files (``Cyrl``).
        convert: transliterates one text from the source script to the target script.
        header: comment lines put above the generated YAML.
        exemplars_dir: where the exemplar files are (the ISKP codebook's).
        gold_dir: where the gold sets are (``eval/narratives/``).

    Example:
        >>> files = DerivedFiles("m", "uz", "Latn", "Cyrl", str.upper, "# generated\\n")
        >>> files.exemplars_target.name, files.gold_source.name
        ('uz-cyrl.yaml', 'uz-latn.jsonl')
    """

    module: str
    lang: str
    source_script: str
    target_script: str
    convert: Callable[[str], str]
    header: str
    exemplars_dir: Path = EXEMPLARS_DIR
    gold_dir: Path = GOLD_DIR

    def _path(self, folder: Path, script: str, suffix: str) -> Path:
        return folder / f"{self.lang}-{script.lower()}{suffix}"

    @property
    def exemplars_source(self) -> Path:
        """The hand-written exemplars file."""
        return self._path(self.exemplars_dir, self.source_script, ".yaml")

    @property
    def exemplars_target(self) -> Path:
        """The generated exemplars file."""
        return self._path(self.exemplars_dir, self.target_script, ".yaml")

    @property
    def gold_source(self) -> Path:
        """The hand-written gold set."""
        return self._path(self.gold_dir, self.source_script, ".jsonl")

    @property
    def gold_target(self) -> Path:
        """The generated gold set."""
        return self._path(self.gold_dir, self.target_script, ".jsonl")

    def exemplars(self, source_yaml: str) -> str:
        """The generated exemplars file (YAML text) for the text of the hand-written one.

        Args:
            source_yaml: the content of the source-script exemplars file.

        Returns:
            YAML with the target ``script`` and every exemplar text converted, under :attr:`header`.
        """
        data = yaml.safe_load(source_yaml)
        derived = {
            "lang": data["lang"],
            "script": self.target_script,
            "narratives": _map_texts(data["narratives"], self.convert),
            "hard_negatives": _map_texts(data.get("hard_negatives", []), self.convert),
            "unrelated": _map_texts(data.get("unrelated", []), self.convert),
        }
        body = yaml.dump(derived, Dumper=_IndentedDumper, allow_unicode=True, sort_keys=False, width=10_000)
        return self.header + body

    def gold(self, source_jsonl: Iterable[str]) -> str:
        """The generated gold JSONL for the lines of the hand-written one (ids uz-Latn-NNN become uz-Cyrl-NNN).

        Args:
            source_jsonl: lines of the source-script gold set.

        Returns:
            JSONL text, one object per line, same order, fields and labels; `text` converted, `script` the target.
        """
        lines = []
        for line in source_jsonl:
            if not line.strip():
                continue
            row = json.loads(line)
            row["id"] = row["id"].replace(f"-{self.source_script}-", f"-{self.target_script}-")
            row["text"] = self.convert(row["text"])
            row["script"] = self.target_script
            lines.append(json.dumps(row, ensure_ascii=False))
        return "\n".join(lines) + "\n"

    def generated(self) -> dict[Path, str]:
        """Each generated file's path and the content it should have now."""
        return {
            self.exemplars_target: self.exemplars(self.exemplars_source.read_text(encoding="utf-8")),
            self.gold_target: self.gold(self.gold_source.read_text(encoding="utf-8").splitlines()),
        }


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def main(files: DerivedFiles, argv: list[str] | None = None, description: str = "") -> int:
    """Regenerate (or, with --check, verify) the generated files of one language.

    Args:
        files: the language's files and transliteration.
        argv: command-line arguments (``sys.argv[1:]`` when None).
        description: the help text's first line.

    Returns:
        The exit code: 1 with --check when a generated file is missing or out of date, else 0.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a generated file differs from what its source gives"
    )
    args = parser.parse_args(argv)
    targets = files.generated()
    stale = [path for path, text in targets.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"out of date: {_shown(path)} (run python -m {files.module})")
        return 1 if stale else 0
    for path in stale:
        path.write_text(targets[path], encoding="utf-8")
        print(f"wrote {_shown(path)}")
    return 0
