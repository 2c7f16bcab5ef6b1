"""Transliteration between the scripts of Uzbek (Latin → Cyrillic) and Uyghur (Arabic UEY → Latin ULY)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmon.classifiers.transliteration import uyghur_arabic_to_latin, uzbek_latin_to_cyrillic
from pmon.classifiers.transliteration.uyghur import HAMZA, LETTERS

# --- Uzbek ----------------------------------------------------------------------------------------------------------

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
def test_uzbek_known_words(latin: str, cyrillic: str) -> None:
    assert uzbek_latin_to_cyrillic(latin) == cyrillic


@pytest.mark.parametrize("apostrophe", ["ʻ", "ʼ", "'", "‘", "’", "`"])
def test_every_apostrophe_variant_makes_o_and_g_letters(apostrophe: str) -> None:
    text = f"O{apostrophe}zbekiston tog{apostrophe}lari"
    assert uzbek_latin_to_cyrillic(text) == "Ўзбекистон тоғлари"


def test_sentence_keeps_punctuation_digits_and_quotes() -> None:
    text = "«Paxtakor» 2:1 hisobida gʻalaba qozondi, eʼlon qilindi: 'yangi' mavsum."
    assert uzbek_latin_to_cyrillic(text) == "«Пахтакор» 2:1 ҳисобида ғалаба қозонди, эълон қилинди: 'янги' мавсум."


def test_word_start_after_hyphen_and_quote() -> None:
    assert uzbek_latin_to_cyrillic("AQSh-Eron «eski» do'stlik") == "АҚШ-Эрон «эски» дўстлик"


def test_ascii_apostrophes_as_typed() -> None:
    assert uzbek_latin_to_cyrillic("O'zbekiston va eski shahar, ma'no") == "Ўзбекистон ва эски шаҳар, маъно"


UZBEK_PIECES = [*"abdefghijklmnopqrstuvxyzABDEFGHIJKLMNOPQRSTUVXYZ", "oʻ", "gʻ", "ʼ", "'", "‘", " ", "-", ",", "1"]
UZBEK_LATIN = st.lists(
    st.sampled_from(UZBEK_PIECES),
    max_size=40,
).map("".join)


@given(UZBEK_LATIN)
def test_uzbek_no_latin_letter_survives(text: str) -> None:
    assert not re.search(r"[A-Za-z]", uzbek_latin_to_cyrillic(text))


@given(UZBEK_LATIN)
def test_uzbek_idempotent_on_its_own_output(text: str) -> None:
    once = uzbek_latin_to_cyrillic(text)
    assert uzbek_latin_to_cyrillic(once) == once


# --- Uyghur ---------------------------------------------------------------------------------------------------------


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
def test_uyghur_known_words(arabic: str, latin: str) -> None:
    assert uyghur_arabic_to_latin(arabic) == latin


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
    assert uyghur_arabic_to_latin(arabic) == latin


def test_sentence_with_arabic_comma() -> None:
    assert uyghur_arabic_to_latin("ئۇيغۇر تىلى ۋە جەمئىيەت، ۋىجدانغا") == "uyghur tili we jem'iyet, wijdan'gha"


def test_word_initial_hamza_is_dropped_after_any_boundary() -> None:
    assert uyghur_arabic_to_latin("«ئۇيغۇر» ئىشىد-ئىشىد") == "«uyghur» ishid-ishid"


def test_punctuation_and_digits() -> None:
    assert uyghur_arabic_to_latin("سالام، دۇنيا؛ قانداق؟ ٢٠٢٤-يىلى ٥٪") == "salam, dunya; qandaq? 2024-yili 5%"


def test_presentation_forms_and_lookalikes() -> None:
    # ﺋ ﯘ ... are the positional forms some older fonts store; ه and ک are typed on Persian keyboards.
    assert uyghur_arabic_to_latin("\ufe8b\ufbd8\ufef3\ufed0\ufbd8\ufead") == "uyghur"
    assert uyghur_arabic_to_latin("کىتاب مەكتەپته") == "kitab mektepte"
    assert uyghur_arabic_to_latin("\u0649\u0654ۇيغۇر") == "uyghur"  # ى + combining hamza


def test_non_uyghur_text_passes_through() -> None:
    mixed = "ISKP, 2024: Тоҷикистон ok"
    assert uyghur_arabic_to_latin(mixed) == mixed
    # idempotent on its own output
    assert uyghur_arabic_to_latin(uyghur_arabic_to_latin("ئۇيغۇر تىلى")) == "uyghur tili"


def test_capitalize_sentences_and_names() -> None:
    text = "خىتاي شىركىتى شەرقىي تۈركىستاندا. بۈگۈن شامال چىقتى! ئىسلام دۆلىتىنىڭ خەۋىرى؟ ياق."
    assert uyghur_arabic_to_latin(text, capitalize=True) == (
        "Xitay shirkiti Sherqiy Türkistanda. Bügün shamal chiqti! Islam Dölitining xewiri? Yaq."
    )
    assert uyghur_arabic_to_latin(text) == uyghur_arabic_to_latin(text, capitalize=True).lower()


_UEY_WORD = st.text(alphabet=[*LETTERS, HAMZA], min_size=1, max_size=12)
_UEY_TEXT = st.lists(_UEY_WORD, min_size=1, max_size=8).map(" ".join)
_ULY_OUTPUT = re.compile(r"[a-zéöü' ]*")


@given(_UEY_TEXT)
def test_any_uey_text_becomes_uly_letters_only(text: str) -> None:
    latin = uyghur_arabic_to_latin(text)
    assert _ULY_OUTPUT.fullmatch(latin), latin
    assert latin.count(" ") == text.count(" ")  # one Latin word per Arabic word
    assert uyghur_arabic_to_latin(text) == latin


@given(_UEY_TEXT)
def test_capitalize_only_changes_case(text: str) -> None:
    assert uyghur_arabic_to_latin(text, capitalize=True).lower() == uyghur_arabic_to_latin(text)
