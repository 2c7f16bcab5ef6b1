"""Generate the uz-Cyrl codebook files (exemplars and gold set) from the uz-Latn ones.

The Uzbek exemplars and gold set are written once, in the official Latin alphabet, and the Cyrillic files are
derived from them with :func:`pmon.classifiers.transliteration.uzbek_latin_to_cyrillic`, so both scripts carry the
same sentences. Run from the repository root::

    .venv/bin/python -m pmon.codebooks.tools.uz_transliterate           # rewrite the uz-cyrl files
    .venv/bin/python -m pmon.codebooks.tools.uz_transliterate --check   # exit 1 if they are out of date
"""

from __future__ import annotations

import sys

from pmon.classifiers.transliteration import uzbek_latin_to_cyrillic
from pmon.codebooks.tools import derived_files

_GENERATED_HEADER = (
    "# GENERATED from uz-latn.yaml by `python -m codebooks.tools.uz_transliterate`:\n"
    "# edit the Latin file, not this one.\n"
    "# Uzbek exemplars for the ISKP codebook, Cyrillic script. Short, mild, synthetic paraphrases written for\n"
    "# training a detector; none is copied from real extremist media.\n"
)

UZ_CYRL = derived_files.DerivedFiles(
    module="pmon.codebooks.tools.uz_transliterate",
    lang="uz",
    source_script="Latn",
    target_script="Cyrl",
    convert=uzbek_latin_to_cyrillic,
    header=_GENERATED_HEADER,
)


def main(argv: list[str] | None = None) -> int:
    """Regenerate (or, with --check, verify) uz-cyrl.yaml and uz-cyrl.jsonl from their Latin sources."""
    return derived_files.main(UZ_CYRL, argv, description=(__doc__ or "").splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
