"""Uyghur Arabic → Latin transliteration (UEY → ULY) and the generated ug-Latn codebook files."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from codebooks.tools.ug_transliterate import (
    EXEMPLARS_ARAB,
    EXEMPLARS_LATN,
    GOLD_ARAB,
    GOLD_LATN,
    HAMZA,
    LETTERS,
    TransliterationError,
    arab_to_latn,
    exemplars_to_latn,
    gold_to_latn,
    main,
)


@pytest.mark.parametrize(
    ("arabic", "latin"),
    [
        ("ئۇيغۇر", "uyghur"),
        ("شىنجاڭ", "shinjang"),
        ("خىتاي", "xitay"),
        ("مۇسۇلمان", "musulman"),
        ("قەشقەر", "qeshqer"),
        ("ئۈرۈمچى", "ürümchi"),
        ("ئۆزبېك", "özbék"),
        ("ۋەتەن", "weten"),
        ("غەرب", "gherb"),
        ("ژۇرنال", "zhurnal"),
        ("چاي", "chay"),
        ("مەڭگۈ", "menggü"),  # ڭ + گ needs no apostrophe: ng then g
    ],
)
def test_known_words(arabic: str, latin: str) -> None:
    assert arab_to_latn(arabic) == latin


@pytest.mark.parametrize(
    ("arabic", "latin"),
    [
        ("مەسئۇل", "mes'ul"),  # hamza inside a word is the apostrophe
        ("سۈنئىي", "sün'iy"),
        ("جەمئىيەت", "jem'iyet"),
        ("سائەت", "sa'et"),
        ("ئىنگلىزچە", "in'glizche"),  # n + g, not the letter ng
        ("قىلىنغان", "qilin'ghan"),  # n + gh, not ng + h
        ("ئىسھاق", "is'haq"),  # s + h, not sh
        ("مەزھەپ", "mez'hep"),  # z + h, not zh
    ],
)
def test_uly_apostrophe(arabic: str, latin: str) -> None:
    assert arab_to_latn(arabic) == latin


def test_word_initial_hamza_is_dropped_after_any_boundary() -> None:
    assert arab_to_latn("«ئۇيغۇر» ئىشىد-ئىشىد") == "«uyghur» ishid-ishid"


def test_punctuation_and_digits() -> None:
    assert arab_to_latn("سالام، دۇنيا؛ قانداق؟ ٢٠٢٤-يىلى ٥٪") == "salam, dunya; qandaq? 2024-yili 5%"


def test_presentation_forms_and_lookalikes() -> None:
    # ﺋ ﯘ ... are the positional forms some older fonts store; ه and ک are typed on Persian keyboards.
    assert arab_to_latn("\ufe8b\ufbd8\ufef3\ufed0\ufbd8\ufead") == "uyghur"
    assert arab_to_latn("کىتاب مەكتەپته") == "kitab mektepte"
    assert arab_to_latn("\u0649\u0654ۇيغۇر") == "uyghur"  # ى + combining hamza


def test_non_uyghur_text_passes_through() -> None:
    mixed = "ISKP, 2024: Тоҷикистон ok"
    assert arab_to_latn(mixed) == mixed
    assert arab_to_latn(arab_to_latn("ئۇيغۇر تىلى")) == "uyghur tili"  # idempotent on its own output


def test_capitalize_sentences_and_names() -> None:
    text = "خىتاي شىركىتى شەرقىي تۈركىستاندا. بۈگۈن شامال چىقتى! ئىسلام دۆلىتىنىڭ خەۋىرى؟ ياق."
    assert arab_to_latn(text, capitalize=True) == (
        "Xitay shirkiti Sherqiy Türkistanda. Bügün shamal chiqti! Islam Dölitining xewiri? Yaq."
    )
    assert arab_to_latn(text) == arab_to_latn(text, capitalize=True).lower()


_UEY_WORD = st.text(alphabet=[*LETTERS, HAMZA], min_size=1, max_size=12)
_UEY_TEXT = st.lists(_UEY_WORD, min_size=1, max_size=8).map(" ".join)
_ULY_OUTPUT = re.compile(r"[a-zéöü' ]*")


@given(_UEY_TEXT)
def test_any_uey_text_becomes_uly_letters_only(text: str) -> None:
    latin = arab_to_latn(text)
    assert _ULY_OUTPUT.fullmatch(latin), latin
    assert latin.count(" ") == text.count(" ")  # one Latin word per Arabic word
    assert arab_to_latn(text) == latin


@given(_UEY_TEXT)
def test_capitalize_only_changes_case(text: str) -> None:
    assert arab_to_latn(text, capitalize=True).lower() == arab_to_latn(text)


def test_generator_refuses_letters_without_uly_spelling() -> None:
    with pytest.raises(TransliterationError, match="U\\+0637"):
        gold_to_latn([json.dumps({"id": "ug-Arab-001", "text": "طالىبان", "script": "Arab"})])


# --- the files ----------------------------------------------------------------------------------------------------


def test_latin_files_are_up_to_date() -> None:
    # Fails when someone edits ug-arab.* without regenerating: run python -m codebooks.tools.ug_transliterate.
    assert main(["--check"]) == 0
    assert EXEMPLARS_LATN.read_text(encoding="utf-8") == exemplars_to_latn(EXEMPLARS_ARAB.read_text(encoding="utf-8"))


def test_exemplar_files_align_text_for_text() -> None:
    arabic = yaml.safe_load(EXEMPLARS_ARAB.read_text(encoding="utf-8"))
    latin = yaml.safe_load(EXEMPLARS_LATN.read_text(encoding="utf-8"))
    assert (arabic["lang"], arabic["script"], latin["lang"], latin["script"]) == ("ug", "Arab", "ug", "Latn")
    assert latin["narratives"].keys() == arabic["narratives"].keys()
    for leaf, stances in arabic["narratives"].items():
        for stance, texts in stances.items():
            assert [arab_to_latn(t, capitalize=True) for t in texts] == latin["narratives"][leaf][stance]


def test_gold_files_align_row_for_row() -> None:
    arabic = [json.loads(line) for line in GOLD_ARAB.read_text(encoding="utf-8").splitlines()]
    latin = [json.loads(line) for line in GOLD_LATN.read_text(encoding="utf-8").splitlines()]
    assert len(arabic) == len(latin) > 0
    for n, (a, b) in enumerate(zip(arabic, latin), start=1):
        assert (a["id"], b["id"]) == (f"ug-Arab-{n:03d}", f"ug-Latn-{n:03d}")
        assert (a["script"], b["script"]) == ("Arab", "Latn")
        assert {k: v for k, v in a.items() if k not in {"id", "text", "script"}} == {
            k: v for k, v in b.items() if k not in {"id", "text", "script"}
        }
        assert not re.search("[\u0600-\u06ff]", b["text"]), b["id"]
