"""Rebuild the langdetect profiles for the languages langdetect does not ship.

langdetect 1.0.9 ships 55 profiles built from Wikipedia, with English, Persian, Arabic, Urdu, Russian and
Turkish among them, but no Tajik, Uzbek, Pashto, Uyghur, Kazakh or Kyrgyz. This script builds those from the
plain-text corpus in `profiles/corpus/`: short sentences on everyday topics (weather, school, market, family,
travel, health) that the project's authors wrote for this purpose, the same topics in every language so that the
profiles differ by language and not by subject. None of it comes from the evaluation data.

Uzbek Cyrillic is derived from the Uzbek Latin corpus and Latin-script Uyghur (ULY) from the Arabic-script
Uyghur corpus with the project's transliterations (`classifiers/transliteration/`, the same that generate the
codebook's second-script files), so each language's two scripts carry the same text.

Each line is normalised with `normalize_for_detection` (the detector's own normalisation) and counted with
langdetect's `LangProfile.update`, so n-grams are extracted exactly as langdetect extracts them at detection
time. Unlike langdetect's `omit_less_freq` (which drops n-grams seen twice or less, meant for Wikipedia-sized
text), only n-grams seen once are dropped: the corpus is small.

Run from the repository root:

    python -m pmon.classifiers.langid.build_profiles
"""

from __future__ import annotations

import json
from pathlib import Path

from langdetect.utils.lang_profile import LangProfile

from pmon.classifiers.langid.normalize import normalize_for_detection
from pmon.classifiers.transliteration import uyghur_arabic_to_latin, uzbek_latin_to_cyrillic

PROFILE_DIR = Path(__file__).parent / "profiles"
CORPUS_DIR = PROFILE_DIR / "corpus"

#: Profile name → (corpus file, transliteration applied to each line, or None).
PROFILE_SOURCES = {
    "tg": ("tg.txt", None),
    "uz-Latn": ("uz-Latn.txt", None),
    "uz-Cyrl": ("uz-Latn.txt", uzbek_latin_to_cyrillic),
    "ps": ("ps.txt", None),
    "ug-Arab": ("ug-Arab.txt", None),
    "ug-Latn": ("ug-Arab.txt", uyghur_arabic_to_latin),
    "kk": ("kk.txt", None),
    "ky": ("ky.txt", None),
}
_MIN_COUNT = 2


def corpus_lines(name: str) -> list[str]:
    """The normalised corpus lines of one profile.

    Args:
        name: A key of `PROFILE_SOURCES`.

    Returns:
        Non-empty lines, transliterated where the profile is derived, normalised for detection.
    """
    filename, transliterate = PROFILE_SOURCES[name]
    lines = (CORPUS_DIR / filename).read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        if not line.strip():
            continue
        if transliterate is not None:
            line = transliterate(line)
        out.append(normalize_for_detection(line))
    return out


def build_profile(name: str) -> dict[str, object]:
    """Count one language's n-grams the way langdetect does.

    Args:
        name: A key of `PROFILE_SOURCES`; it becomes the profile's language name.

    Returns:
        A langdetect profile as JSON-ready data: `{"name", "freq", "n_words"}`.
    """
    profile = LangProfile(name=name)
    for line in corpus_lines(name):
        profile.update(line)
    freq = {gram: count for gram, count in profile.freq.items() if count >= _MIN_COUNT}
    n_words = [0, 0, 0]
    for gram, count in freq.items():
        n_words[len(gram) - 1] += count
    return {"name": name, "freq": dict(sorted(freq.items())), "n_words": n_words}


def main() -> None:
    """Write every profile to `profiles/<name>.json`."""
    for name in PROFILE_SOURCES:
        profile = build_profile(name)
        path = PROFILE_DIR / f"{name}.json"
        path.write_text(json.dumps(profile, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"{path.name}: {len(profile['freq'])} n-grams")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
