"""Issue #14: padding is no evidence of a language; issue #17: Latin Uzbek snippets are not Uyghur (real detector)."""

from __future__ import annotations

import pytest

from pmon.classifiers.langid import detect, detect_document, normalize_for_detection

SENTENCE = "The city council approved the new budget for schools on Monday."


@pytest.mark.parametrize("padding", ["a" * 30_000, "A" * 30_000, "ب" * 30_000])
@pytest.mark.parametrize("separator", [" ", "\n", ""])
def test_a_sentence_followed_by_30000_repeated_letters_keeps_its_language(padding: str, separator: str) -> None:
    result = detect_document(SENTENCE + separator + padding)
    assert result.lang == "en"
    assert result.mix == {"en": 1.0}


def test_runs_of_one_letter_fold_to_one_but_words_are_kept() -> None:
    assert normalize_for_detection("Sooooo good AAAAAAA ok") == "So good A ok"
    assert normalize_for_detection("bookkeeper Oʻzbekiston") == "bookkeeper Oʻzbekiston"  # doubled letters stay


@pytest.mark.parametrize(
    "snippet", ["matbuot xizmati prezident", "Respublikasi Prezidenti", "Mixail Mishustin bilan"]
)
def test_latin_uzbek_snippets_without_uyghur_letters_stay_uzbek(snippet: str) -> None:
    assert detect(snippet).lang == "uz"


def test_latin_uyghur_with_its_own_letters_or_words_is_still_uyghur() -> None:
    assert detect("Men bügün mektepke bardim we dostlirim bilen körüshtüm").lang == "ug"
    assert detect("yéngi mektep üchün").lang == "ug"
