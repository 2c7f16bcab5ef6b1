"""Generate the ug-Latn codebook files (exemplars and gold set) from the ug-Arab ones.

The Uyghur exemplars and gold set are written once, in the Arabic script (Uyghur Ereb Yéziqi), and the Latin
files are derived from them with :func:`pmon.classifiers.transliteration.uyghur_arabic_to_latin` (names and sentence
starts capitalised), so both scripts carry the same sentences. Run from the repository root::

    .venv/bin/python -m pmon.codebooks.tools.ug_transliterate           # rewrite the ug-latn files
    .venv/bin/python -m pmon.codebooks.tools.ug_transliterate --check   # exit 1 if they are out of date

The generator refuses output with Arabic-script characters left in it (a letter UEY does not have, or a typo).
"""

from __future__ import annotations

import re
import sys

from pmon.classifiers.transliteration import uyghur_arabic_to_latin
from pmon.codebooks.tools import derived_files

_ARABIC_BLOCKS = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")


class TransliterationError(ValueError):
    """Arabic-script characters survived transliteration: a letter UEY does not have, or a typo in the source."""


def _checked_latn(text: str) -> str:
    """ULY for `text`, capitalised as ULY text is written.

    Raises:
        TransliterationError: Arabic-script characters are left in the output.
    """
    latin = uyghur_arabic_to_latin(text, capitalize=True)
    leftover = _ARABIC_BLOCKS.findall(latin)
    if leftover:
        codes = ", ".join(sorted({f"U+{ord(ch):04X} {ch}" for ch in leftover}))
        raise TransliterationError(f"no ULY spelling for {codes} in: {text}")
    return latin


_GENERATED_HEADER = (
    "# GENERATED from ug-arab.yaml by `python -m codebooks.tools.ug_transliterate`: edit the Arabic-script file.\n"
    "# Uyghur exemplars for the ISKP codebook, Latin script (ULY). Short, mild, synthetic paraphrases written for\n"
    "# training a detector; none is copied from real extremist media.\n"
)

UG_LATN = derived_files.DerivedFiles(
    module="pmon.codebooks.tools.ug_transliterate",
    lang="ug",
    source_script="Arab",
    target_script="Latn",
    convert=_checked_latn,
    header=_GENERATED_HEADER,
)


def main(argv: list[str] | None = None) -> int:
    """Regenerate (or, with --check, verify) ug-latn.yaml and ug-latn.jsonl from their Arabic-script sources."""
    return derived_files.main(UG_LATN, argv, description=(__doc__ or "").splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
