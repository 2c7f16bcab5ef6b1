"""Uzbek Latin → Cyrillic transliteration, and the generated uz-Cyrl codebook files staying in step with uz-Latn."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
# codebooks/ is not an installed package, and `pytest` alone does not put the repository root on the path.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from codebooks.tools import uz_transliterate  # noqa: E402
from codebooks.tools.uz_transliterate import latn_to_cyrl  # noqa: E402

KNOWN_PAIRS = [
    # the brief's pairs
    ("Oʻzbekiston", "Ўзбекистон"),
    ("shahar", "шаҳар"),
    ("gʻalaba", "ғалаба"),
    ("yangi", "янги"),
    ("erkin", "эркин"),
    # digraphs and letters without a one-to-one Latin form
    ("choy", "чой"),
    ("yoki", "ёки"),
    ("yuk", "юк"),
    ("yashash", "яшаш"),
    ("Yevropa", "Европа"),
    ("qayerda", "қаерда"),
    ("xalq", "халқ"),
    ("hijrat", "ҳижрат"),
    ("tayyor", "тайёр"),
    ("dunyo", "дунё"),
    ("tong", "тонг"),
    # oʻ/gʻ before and after y: yoʻ is й + ў, not ё
    ("yoʻl", "йўл"),
    ("Yoʻq", "Йўқ"),
    ("togʻ", "тоғ"),
    ("qoʻgʻirchoq", "қўғирчоқ"),
    # tutuq belgisi
    ("maʼno", "маъно"),
    ("Qurʼon", "Қуръон"),
    ("eʼlon", "эълон"),
    ("sanʼat", "санъат"),
    ("Isʼhoq", "Исҳоқ"),
    # e: э at the start of a word and after a vowel other than i
    ("eski", "эски"),
    ("kecha", "кеча"),
    ("aeroport", "аэропорт"),
    ("klient", "клиент"),
    # ts: ц in loan words, t + s at Uzbek morpheme boundaries
    ("politsiya", "полиция"),
    ("tsement", "цемент"),
    ("sotsiolog", "социолог"),
    ("ketsa", "кетса"),
    ("aytsin", "айтсин"),
    ("siyosatshunos", "сиёсатшунос"),
    # loan stems the rules cannot recover
    ("sanksiyalar", "санкциялар"),
    ("Kompyuterda", "Компьютерда"),
    # case
    ("Shahar", "Шаҳар"),
    ("SHAHAR", "ШАҲАР"),
    ("OʻZBEKISTON", "ЎЗБЕКИСТОН"),
    ("AQSh", "АҚШ"),
    ("IShID-X", "ИШИД-Х"),
]


@pytest.mark.parametrize(("latin", "cyrillic"), KNOWN_PAIRS)
def test_known_words(latin: str, cyrillic: str) -> None:
    assert latn_to_cyrl(latin) == cyrillic


@pytest.mark.parametrize("apostrophe", ["ʻ", "ʼ", "'", "‘", "’", "`"])
def test_every_apostrophe_variant_makes_o_and_g_letters(apostrophe: str) -> None:
    text = f"O{apostrophe}zbekiston tog{apostrophe}lari"
    assert latn_to_cyrl(text) == "Ўзбекистон тоғлари"


def test_sentence_keeps_punctuation_digits_and_quotes() -> None:
    text = "«Paxtakor» 2:1 hisobida gʻalaba qozondi, eʼlon qilindi: 'yangi' mavsum."
    assert latn_to_cyrl(text) == "«Пахтакор» 2:1 ҳисобида ғалаба қозонди, эълон қилинди: 'янги' мавсум."


def test_word_start_after_hyphen_and_quote() -> None:
    assert latn_to_cyrl("AQSh-Eron «eski» do'stlik") == "АҚШ-Эрон «эски» дўстлик"


UZBEK_PIECES = [*"abdefghijklmnopqrstuvxyzABDEFGHIJKLMNOPQRSTUVXYZ", "oʻ", "gʻ", "ʼ", "'", "‘", " ", "-", ",", "1"]
UZBEK_LATIN = st.lists(
    st.sampled_from(UZBEK_PIECES),
    max_size=40,
).map("".join)


@given(UZBEK_LATIN)
def test_no_latin_letter_survives(text: str) -> None:
    assert not re.search(r"[A-Za-z]", latn_to_cyrl(text))


@given(UZBEK_LATIN)
def test_idempotent_on_its_own_output(text: str) -> None:
    once = latn_to_cyrl(text)
    assert latn_to_cyrl(once) == once


def test_generated_cyrillic_files_are_up_to_date() -> None:
    """The uz-cyrl files are derived: editing only the Latin ones must fail here until they are regenerated."""
    assert uz_transliterate.main(["--check"]) == 0


def test_cyrillic_gold_mirrors_latin_gold() -> None:
    latin = [json.loads(line) for line in uz_transliterate.GOLD_LATN.read_text(encoding="utf-8").splitlines()]
    cyrillic = [json.loads(line) for line in uz_transliterate.GOLD_CYRL.read_text(encoding="utf-8").splitlines()]
    assert len(latin) == len(cyrillic)
    for lat, cyr in zip(latin, cyrillic, strict=True):
        assert cyr["id"] == lat["id"].replace("uz-Latn-", "uz-Cyrl-")
        assert (cyr["labels"], cyr["stance"], cyr["kind"]) == (lat["labels"], lat["stance"], lat["kind"])
        assert cyr["script"] == "Cyrl"
        assert not re.search(r"[A-Za-z]", cyr["text"]), cyr["id"]


def test_cyrillic_exemplars_have_no_latin_letters() -> None:
    data = yaml.safe_load(uz_transliterate.EXEMPLARS_CYRL.read_text(encoding="utf-8"))
    assert (data["lang"], data["script"]) == ("uz", "Cyrl")
    texts = [t for stances in data["narratives"].values() for ts in stances.values() for t in ts]
    texts += data["hard_negatives"] + data["unrelated"]
    assert texts
    assert [t for t in texts if re.search(r"[A-Za-z]", t)] == []
