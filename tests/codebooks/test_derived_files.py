"""The generated codebook files: uz-Cyrl from uz-Latn and ug-Latn from ug-Arab, exemplars and gold sets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from pmon.classifiers.transliteration import uyghur_arabic_to_latin
from pmon.codebooks.tools import derived_files, ug_transliterate, uz_transliterate
from pmon.codebooks.tools.ug_transliterate import UG_LATN, TransliterationError
from pmon.codebooks.tools.uz_transliterate import UZ_CYRL

GENERATORS = {"uz": uz_transliterate, "ug": ug_transliterate}


@pytest.mark.parametrize("lang", GENERATORS)
def test_generated_files_are_up_to_date(lang: str) -> None:
    # Fails when someone edits the hand-written files without regenerating:
    # run python -m pmon.codebooks.tools.<lang>_transliterate.
    assert GENERATORS[lang].main(["--check"]) == 0


@pytest.mark.parametrize("files", [UZ_CYRL, UG_LATN], ids=["uz", "ug"])
def test_generated_files_are_byte_for_byte_what_the_generator_writes(files: derived_files.DerivedFiles) -> None:
    # The codebook fingerprint covers the exemplar files: a change of one byte retrains the classifier.
    for path, text in files.generated().items():
        assert path.read_bytes() == text.encode("utf-8"), path.name
    header = f"# GENERATED from {files.exemplars_source.name}"
    assert files.exemplars_target.read_text(encoding="utf-8").startswith(header)


def test_generator_writes_stale_files_and_check_reports_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "xx-latn.yaml").write_text('lang: xx\nscript: Latn\nnarratives:\n  a:\n    promote:\n      - "ab cd"\n')
    (tmp_path / "xx-latn.jsonl").write_text('{"id": "xx-Latn-001", "text": "ab cd", "script": "Latn"}\n')
    files = derived_files.DerivedFiles(
        "tool", "xx", "Latn", "Cyrl", str.upper, "# generated\n", exemplars_dir=tmp_path, gold_dir=tmp_path
    )

    assert derived_files.main(files, ["--check"]) == 1
    assert f"out of date: {tmp_path / 'xx-cyrl.yaml'} (run python -m tool)" in capsys.readouterr().out
    assert derived_files.main(files, []) == 0
    assert derived_files.main(files, ["--check"]) == 0
    assert (tmp_path / "xx-cyrl.yaml").read_text() == (
        '# generated\nlang: xx\nscript: Cyrl\nnarratives:\n  a:\n    promote:\n      - "AB CD"\n'
        "hard_negatives: []\nunrelated: []\n"
    )
    gold = json.loads((tmp_path / "xx-cyrl.jsonl").read_text())
    assert gold == {"id": "xx-Cyrl-001", "text": "AB CD", "script": "Cyrl"}


# --- Uzbek Cyrillic -------------------------------------------------------------------------------------------------


def test_cyrillic_gold_mirrors_latin_gold() -> None:
    latin = [json.loads(line) for line in UZ_CYRL.gold_source.read_text(encoding="utf-8").splitlines()]
    cyrillic = [json.loads(line) for line in UZ_CYRL.gold_target.read_text(encoding="utf-8").splitlines()]
    assert len(latin) == len(cyrillic)
    for lat, cyr in zip(latin, cyrillic, strict=True):
        assert cyr["id"] == lat["id"].replace("uz-Latn-", "uz-Cyrl-")
        assert (cyr["labels"], cyr["stance"], cyr["kind"]) == (lat["labels"], lat["stance"], lat["kind"])
        assert cyr["script"] == "Cyrl"
        assert not re.search(r"[A-Za-z]", cyr["text"]), cyr["id"]


def test_cyrillic_exemplars_have_no_latin_letters() -> None:
    data = yaml.safe_load(UZ_CYRL.exemplars_target.read_text(encoding="utf-8"))
    assert (data["lang"], data["script"]) == ("uz", "Cyrl")
    texts = [t for stances in data["narratives"].values() for ts in stances.values() for t in ts]
    texts += data["hard_negatives"] + data["unrelated"]
    assert texts
    assert [t for t in texts if re.search(r"[A-Za-z]", t)] == []


# --- Uyghur Latin ---------------------------------------------------------------------------------------------------


def test_generator_refuses_letters_without_uly_spelling() -> None:
    with pytest.raises(TransliterationError, match="U\\+0637"):
        UG_LATN.gold([json.dumps({"id": "ug-Arab-001", "text": "طالىبان", "script": "Arab"})])


def test_exemplar_files_align_text_for_text() -> None:
    arabic = yaml.safe_load(UG_LATN.exemplars_source.read_text(encoding="utf-8"))
    latin = yaml.safe_load(UG_LATN.exemplars_target.read_text(encoding="utf-8"))
    assert (arabic["lang"], arabic["script"], latin["lang"], latin["script"]) == ("ug", "Arab", "ug", "Latn")
    assert latin["narratives"].keys() == arabic["narratives"].keys()
    for leaf, stances in arabic["narratives"].items():
        for stance, texts in stances.items():
            assert [uyghur_arabic_to_latin(t, capitalize=True) for t in texts] == latin["narratives"][leaf][stance]


def test_gold_files_align_row_for_row() -> None:
    arabic = [json.loads(line) for line in UG_LATN.gold_source.read_text(encoding="utf-8").splitlines()]
    latin = [json.loads(line) for line in UG_LATN.gold_target.read_text(encoding="utf-8").splitlines()]
    assert len(arabic) == len(latin) > 0
    for n, (a, b) in enumerate(zip(arabic, latin, strict=True), start=1):
        assert (a["id"], b["id"]) == (f"ug-Arab-{n:03d}", f"ug-Latn-{n:03d}")
        assert (a["script"], b["script"]) == ("Arab", "Latn")
        assert {k: v for k, v in a.items() if k not in {"id", "text", "script"}} == {
            k: v for k, v in b.items() if k not in {"id", "text", "script"}
        }
        assert not re.search("[\u0600-\u06ff]", b["text"]), b["id"]
