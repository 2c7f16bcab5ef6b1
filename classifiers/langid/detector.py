"""Language identification for the six target languages and their confusable neighbours.

How a text is decided (each step is cheap unless the one before left the answer open):

1. Normalise for detection (`normalize.py`) and count letters per script. Fewer than `MIN_LETTERS` letters is
   `und`.
2. CLD2 gives the first opinion. It knows every target language but Latin-script Uyghur, and given Latin
   Uyghur it names its nearest relative it knows (Uzbek, Turkish, Azerbaijani, Turkmen). So in Latin script its
   best vote for a Turkic language counts for Uyghur too: CLD2 cannot tell them apart, the letters and words
   below can (Uyghur writes ch sh gh é, Turkish ç ş ğ ı, Uzbek oʻ gʻ, ...). When a Latin text has a word that
   only Uyghur has (`evidence.LATIN_UYGHUR_MARKERS`: bilen, üchün, kérek, ...), CLD2's best vote counts for
   Uyghur whatever language it named.
3. Letter evidence (`evidence.LETTER_GROUPS`): a letter that a language does not write counts against it
   (ҷ against Uzbek, ў against Tajik, ړ against Persian, oʻ against Uyghur, é ö ü against Uzbek, ...).
4. Function-word evidence: one point per word that is among a language's most frequent words.
5. When the two best languages are within `SECOND_OPINION_MARGIN` points, or CLD2 said nothing reliable,
   fastText lid.176 (lite) adds its probabilities.
6. When they are still within `TIE_BREAK_MARGIN`, or a Latin text has a Uyghur-only word, langdetect with the
   project's profiles (the only detector here with a Latin-script Uyghur model) scores the best candidates.

Scores are points on a log-odds-like scale; `confidence` is the best language's share of a softmax over them.
"""

from __future__ import annotations

import math
import re

from pmon.classifiers.langid import backends
from pmon.classifiers.langid.evidence import (
    ARABIC,
    COMMON,
    CYRILLIC,
    LATIN,
    LATIN_TURKIC,
    LATIN_UYGHUR_MARKERS,
    SCRIPT_LANGUAGES,
    ScriptCounts,
    count_scripts,
    letter_evidence,
    word_evidence,
    words_of,
)
from pmon.classifiers.langid.normalize import normalize_for_detection
from pmon.classifiers.langid.variety import detect_variety
from pmon.schemas.language import UNDETERMINED, LanguageCandidate, LanguageResult, LanguageSegment

PERSIAN = "fa"

#: Below this many letters nothing can be told.
MIN_LETTERS = 3
#: CLD2's vote: this many points times the share of the text it gives a language (reliable / not reliable).
CLD2_WEIGHT_RELIABLE = 6.0
CLD2_WEIGHT_UNRELIABLE = 3.0
#: One point per function word, counted up to this many words per language.
WORD_WEIGHT = 1.0
WORD_CAP = 8
#: fastText's vote: this many points times its probability.
FASTTEXT_WEIGHT = 3.0
#: Ask fastText when the best two are closer than this (or CLD2 is unsure); ask langdetect when closer than the
#: tie-break margin after that.
SECOND_OPINION_MARGIN = 3.0
TIE_BREAK_MARGIN = 2.0
LANGDETECT_WEIGHT = 3.0
#: Uzbek is far more often written in Latin script than Uyghur is: with no evidence either way, Uzbek.
LATIN_UYGHUR_PRIOR = -0.25
#: How many ranked candidates a result lists.
MAX_CANDIDATES = 3
#: Softmax temperature that turns points into candidate scores.
TEMPERATURE = 1.5

# langdetect profile names per (language, script) where the project ships a profile for that script.
_LANGDETECT_PROFILE = {
    ("uz", LATIN): "uz-Latn",
    ("uz", CYRILLIC): "uz-Cyrl",
    ("ug", LATIN): "ug-Latn",
    ("ug", ARABIC): "ug-Arab",
}


def _margin(points: dict[str, float]) -> float:
    """Distance between the best and the second-best language."""
    first = second = -math.inf
    for value in points.values():
        if value > first:
            first, second = value, first
        elif value > second:
            second = value
    return first - second


def _best_two(points: dict[str, float]) -> list[str]:
    # Ties keep insertion order (the script's targets first): sorted() is stable, so this is deterministic.
    return sorted(points, key=points.__getitem__, reverse=True)[:2]


def _undetermined(script: str = COMMON) -> LanguageResult:
    return LanguageResult(lang=UNDETERMINED, script=script, confidence=0.0, candidates=[])


def _add_votes(
    points: dict[str, float], votes: list[tuple[str, float]], script: str, stands_for_uyghur: frozenset[str] | None
) -> None:
    """Add a detector's votes; in Latin script, give Uyghur the vote the detector could not give it.

    `stands_for_uyghur`: the languages this detector names when it is given Latin Uyghur (None: any language).
    """
    uyghur_vote = 0.0
    for lang, vote in votes:
        points[lang] = points.get(lang, 0.0) + vote
        if stands_for_uyghur is None or lang in stands_for_uyghur:
            uyghur_vote = max(uyghur_vote, vote)
    if script == LATIN:
        points["ug"] += uyghur_vote


def _add_cld2(points: dict[str, float], text: str, script: str, latin_uyghur_words: bool) -> bool:
    result = backends.cld2_detect(text)
    weight = CLD2_WEIGHT_RELIABLE if result.reliable else CLD2_WEIGHT_UNRELIABLE
    votes = [(lang, weight * percent / 100.0) for lang, percent in result.languages]
    # CLD2 names Uyghur's nearest Latin Turkic relative it knows; with a Uyghur-only word, whatever it named.
    _add_votes(points, votes, script, None if latin_uyghur_words else LATIN_TURKIC)
    return result.reliable and bool(result.languages)


_UZBEK_ONLY = frozenset({"uz"})


def _add_fasttext(points: dict[str, float], text: str, script: str, latin_uyghur_words: bool) -> None:
    # Only languages already in the running count: fastText's long tail (sh, bg, mk, ...) adds noise, not news.
    votes = [(lang, FASTTEXT_WEIGHT * p) for lang, p in backends.fasttext_detect(text) if lang in points]
    # fastText is a second opinion: only its Uzbek may stand for Latin Uyghur (it calls Uzbek snippets Turkish,
    # and copying that to Uyghur would make it overrule CLD2 on Uzbek).
    _add_votes(points, votes, script, None if latin_uyghur_words else _UZBEK_ONLY)


def _add_langdetect(points: dict[str, float], text: str, script: str, also: tuple[str, ...] = ()) -> None:
    langs = list(dict.fromkeys(_best_two(points) + list(also)))
    names = [_LANGDETECT_PROFILE.get((lang, script), lang) for lang in langs]
    for name, probability in backends.langdetect_scores(text, among=names):
        lang = name.split("-")[0]
        if lang in points:
            points[lang] += LANGDETECT_WEIGHT * probability


#: Letters Latin Uyghur (ULY) writes often and Uzbek never: without one, and without a Uyghur-only word, a Latin
#: text's Uyghur points are only CLD2's Uzbek vote copied (see `_add_votes`).
_LATIN_UYGHUR_LETTERS = frozenset("éöüÉÖÜ")


def _uzbek_against_letterless_uyghur(points: dict[str, float], text: str, script: str) -> bool:
    """True when Uzbek leads Uyghur in Latin text with no letter or word of Uyghur's own: nothing to break.

    langdetect's small Latin-Uyghur profile otherwise overrules CLD2's reliable Uzbek on snippets
    (`matbuot xizmati prezident`, `Respublikasi Prezidenti`).
    """
    return (
        script == LATIN
        and _best_two(points) == ["uz", "ug"]
        and _LATIN_UYGHUR_LETTERS.isdisjoint(text)
    )


def _result(points: dict[str, float], script: str) -> LanguageResult:
    ranked = sorted(points.items(), key=lambda item: item[1], reverse=True)
    top = ranked[0][1]
    weights = [math.exp((value - top) / TEMPERATURE) for _, value in ranked]
    total = sum(weights)
    candidates = [
        LanguageCandidate(lang=lang, score=round(weight / total, 4))
        for (lang, _), weight in zip(ranked[:MAX_CANDIDATES], weights, strict=False)
    ]
    return LanguageResult(
        lang=ranked[0][0], script=script, confidence=round(weights[0] / total, 4), candidates=candidates
    )


_WORDS_CANNOT_CHANGE = WORD_WEIGHT * WORD_CAP + SECOND_OPINION_MARGIN
#: Starting points per script: every candidate at 0, Latin-script Uyghur a little below (see the prior).
_START_POINTS: dict[str, dict[str, float]] = {
    script: {lang: (LATIN_UYGHUR_PRIOR if (script, lang) == (LATIN, "ug") else 0.0) for lang in langs}
    for script, langs in SCRIPT_LANGUAGES.items()
}


def detect_normalized(text: str) -> LanguageResult:
    """Identify the language of text already passed through `normalize_for_detection`.

    Args:
        text: Normalised text.

    Returns:
        The best language, its script, a confidence in [0, 1] and up to three ranked candidates.
    """
    return _detect(text, count_scripts(text))


def _detect(text: str, counts: ScriptCounts) -> LanguageResult:
    if counts.letters < MIN_LETTERS:
        return _undetermined()
    script = counts.dominant
    if script == COMMON:
        # Not one of the three scripts this project reads: report what CLD2 says, if anything.
        points: dict[str, float] = {}
        _add_cld2(points, text, script, False)
        return _result(points, COMMON) if points else _undetermined()

    points = dict(_START_POINTS[script])
    # Latin needs its words before CLD2 is read: a Uyghur-only word changes what CLD2's vote means.
    words = words_of(text) if script == LATIN else None
    latin_uyghur_words = words is not None and not LATIN_UYGHUR_MARKERS.isdisjoint(words)
    cld2_sure = _add_cld2(points, text, script, latin_uyghur_words)
    for lang, value in letter_evidence(text, script, tuple(points)).items():
        if value:
            points[lang] += value
    # Function words add at most WORD_CAP points to a language: when the lead is larger than that and than the
    # second-opinion margin, they cannot change the answer, and the text needs no more work.
    if words is not None or not cld2_sure or _margin(points) <= _WORDS_CANNOT_CHANGE:
        for lang, hits in word_evidence(words if words is not None else words_of(text)).items():
            if lang in points:
                points[lang] += WORD_WEIGHT * min(hits, WORD_CAP)
        if not cld2_sure or _margin(points) < SECOND_OPINION_MARGIN:
            _add_fasttext(points, text, script, latin_uyghur_words)
        if latin_uyghur_words:
            _add_langdetect(points, text, script, also=("ug",))
        elif _margin(points) < TIE_BREAK_MARGIN and not _uzbek_against_letterless_uyghur(points, text, script):
            _add_langdetect(points, text, script)
    return _result(points, script)


def warm_up() -> None:
    """Load every model now (CLD2 is compiled in; fastText and langdetect load lazily on first need).

    Call once before timing, or at worker start so that the first document does not pay for loading.
    """
    backends.fasttext_detect("warm up")
    backends.langdetect_scores("warm up", ["en", "uz-Latn"])


def _with_variety(result: LanguageResult, persian_text: str) -> LanguageResult:
    """Add the Persian variety (Dari, Iranian, or und) to a result whose language is Persian."""
    if result.lang != PERSIAN:
        return result
    variety = detect_variety(persian_text)
    return result.model_copy(update={"variety": variety.variety, "variety_confidence": variety.confidence})


def detect(text: str) -> LanguageResult:
    """Identify the single language of a text (a post, a sentence, a snippet).

    Args:
        text: Raw text; it is normalised for detection internally and not changed.

    Returns:
        `LanguageResult` with `lang` (ISO 639-1, `fa` for Persian and Dari, `und` when it cannot tell),
        `script` (Latn, Cyrl, Arab, or Zyyy), `confidence` and ranked `candidates`; for `fa`, `variety`
        (`prs` Dari, `pes` Iranian, `und`) and `variety_confidence`. Deterministic.

    Example:
        >>> detect("Ҳамаи одамон озод ба дунё меоянд").lang
        'tg'
    """
    return _with_variety(detect_normalized(normalize_for_detection(text)), text)


#: A segment with fewer letters than this is not detected on its own: it takes its neighbour's language.
SEGMENT_MIN_LETTERS = 12
# Sentence ends, line breaks, and spaced dashes or bars (headline separators) cut a document into pieces.
_PIECE_BREAK = re.compile(r"(?<=[.!?؟۔।])\s+|\s*[\n\r]+\s*|\s+[-–—|]\s+")
_TOKEN = re.compile(r"\S+")


def _token_script(token: str) -> str:
    # The script of a token's first letter; tokens without letters (numbers, punctuation) are neutral.
    for ch in token:
        if ch.isalpha():
            code = ord(ch)
            if code < 0x0300 or 0x1E00 <= code <= 0x1EFF:
                return LATIN
            if 0x0400 <= code <= 0x052F:
                return CYRILLIC
            if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF:
                return ARABIC
            return COMMON
    return ""


_OPENING_QUOTES = "\"'“‘«„‹「"
_CLOSING_QUOTES = "\"'”’»“‛›」"


def _is_quoted(piece: str) -> bool:
    # A piece that opens and closes with quotation marks (a quoted headline, a slogan) is someone else's words.
    stripped = piece.strip().rstrip(".,;:!?؟،")
    return len(stripped) > 2 and stripped[0] in _OPENING_QUOTES and stripped[-1] in _CLOSING_QUOTES


def _split_document(text: str) -> list[tuple[int, int]]:
    """Cut `text` into pieces at sentence ends and line breaks, and where the script changes inside a line."""
    spans = []
    position = 0
    bounds = []
    for match in _PIECE_BREAK.finditer(text):
        bounds.append((position, match.start()))
        position = match.end()
    bounds.append((position, len(text)))
    for piece_start, piece_end in bounds:
        piece = text[piece_start:piece_end]
        counts = count_scripts(piece)
        if (counts.latin > 0) + (counts.cyrillic > 0) + (counts.arabic > 0) + (counts.other > 0) <= 1:
            # One script (the usual case): the piece is one run, no need to look at its tokens.
            stripped = piece.strip()
            if stripped:
                offset = piece_start + piece.index(stripped[0])
                spans.append((offset, offset + len(stripped)))
            continue
        run_start = run_end = -1
        run_script = ""
        for token in _TOKEN.finditer(text, piece_start, piece_end):
            script = _token_script(token.group())
            if run_start < 0:
                run_start, run_end, run_script = token.start(), token.end(), script
            elif script and run_script and script != run_script:
                spans.append((run_start, run_end))
                run_start, run_end, run_script = token.start(), token.end(), script
            else:
                run_end = token.end()
                run_script = run_script or script
        if run_start >= 0:
            spans.append((run_start, run_end))
    return spans


def detect_document(text: str) -> LanguageResult:
    """Identify the languages of a document that may mix several, and its dominant one (see `_detect_document`).

    For a Persian document, `variety` is told from its Persian segments only (quoted English says nothing).
    """
    result = _detect_document(text)
    if result.lang != PERSIAN or result.variety is not None:
        return result
    persian = " ".join(text[s.start : s.end] for s in result.segments if s.lang == PERSIAN)
    return _with_variety(result, persian or text)


def _detect_document(text: str) -> LanguageResult:
    """Identify the languages of a document that may mix several, and its dominant one.

    The text is cut at sentence ends, line breaks and headline separators, and where the script changes (a
    Pashto sentence quoting an English headline gives three pieces). Each piece of at least
    `SEGMENT_MIN_LETTERS` letters is detected on its own; shorter pieces (a name, an acronym, a number) take the
    language of the piece before them, or after them at the start. Neighbouring pieces of one language and
    script merge into one segment. `mix` is each language's share of the letters, and `lang` the language with
    most letters outside quotation marks: a Pashto post quoting an English headline is Pashto, with the English
    part in `mix` and `segments`, even when the headline is the longer part.

    Args:
        text: Raw text.

    Returns:
        `LanguageResult` with `segments` (character offsets into `text`) and `mix` filled in. For a document of
        one language, `confidence` and `candidates` are the whole text's; for a mixed one, `confidence` is the
        letter-weighted confidence of the dominant language's segments and `candidates` are the mix's shares.
    """
    pieces = []
    for start, end in _split_document(text):
        clean = normalize_for_detection(text[start:end])
        counts = count_scripts(clean)
        pieces.append((start, end, clean, counts.letters, counts))
    long_pieces = [piece for piece in pieces if piece[3] >= SEGMENT_MIN_LETTERS]
    if len(long_pieces) <= 1:
        # One language at most to find: the whole text decides, and it is its only segment.
        result = _detect(pieces[0][2], pieces[0][4]) if len(pieces) == 1 else detect(text)
        if result.lang == UNDETERMINED:
            return result
        segment = LanguageSegment(start=0, end=len(text), lang=result.lang, script=result.script)
        return result.model_copy(update={"mix": {result.lang: 1.0}, "segments": [segment]})

    labelled: list[tuple[int, int, str, str, int]] = []
    confidence_sum: dict[str, float] = {}  # letter-weighted confidence of the pieces detected per language
    for start, end, clean, letters, counts in pieces:
        if letters >= SEGMENT_MIN_LETTERS:
            result = _detect(clean, counts)
            if result.lang != UNDETERMINED:
                labelled.append((start, end, result.lang, result.script, letters))
                confidence_sum[result.lang] = confidence_sum.get(result.lang, 0.0) + result.confidence * letters
                continue
        labelled.append((start, end, UNDETERMINED, COMMON, letters))
    # Short or undetermined pieces take the language of the piece before them (or the first one after).
    first_known = next((item for item in labelled if item[2] != UNDETERMINED), None)
    if first_known is None:
        return detect(text)
    previous = first_known
    resolved = []
    for item in labelled:
        if item[2] == UNDETERMINED:
            item = (item[0], item[1], previous[2], previous[3], item[4])
        resolved.append(item)
        previous = item

    segments: list[LanguageSegment] = []
    letters_per_lang: dict[str, int] = {}
    own_letters_per_lang: dict[str, int] = {}  # letters outside quotation marks: the author's own language
    for start, end, lang, script, letters in resolved:
        letters_per_lang[lang] = letters_per_lang.get(lang, 0) + letters
        if not _is_quoted(text[start:end]):
            own_letters_per_lang[lang] = own_letters_per_lang.get(lang, 0) + letters
        if segments and segments[-1].lang == lang and segments[-1].script == script:
            segments[-1] = LanguageSegment(start=segments[-1].start, end=end, lang=lang, script=script)
        else:
            segments.append(LanguageSegment(start=start, end=end, lang=lang, script=script))
    total = sum(letters_per_lang.values()) or 1
    mix = {lang: round(count / total, 4) for lang, count in sorted(letters_per_lang.items(), key=lambda i: -i[1])}
    dominant = max(own_letters_per_lang or letters_per_lang, key=lambda lang: (
        (own_letters_per_lang or letters_per_lang)[lang], letters_per_lang[lang]))
    detected_letters = sum(item[4] for item in labelled if item[2] == dominant)
    confidence = confidence_sum[dominant] / detected_letters if detected_letters else mix[dominant]
    dominant_letters: dict[str, int] = {}
    for _, _, lang, script, letters in resolved:
        if lang == dominant:
            dominant_letters[script] = dominant_letters.get(script, 0) + letters
    dominant_script = max(dominant_letters.items(), key=lambda item: item[1])[0]
    if len(mix) == 1:
        whole = detect(text)
        if whole.lang == dominant:
            return whole.model_copy(update={"script": dominant_script, "mix": mix, "segments": segments})
    # Best first: the dominant language, then the others by share.
    ordered = [dominant] + [lang for lang in mix if lang != dominant]
    candidates = [LanguageCandidate(lang=lang, score=mix[lang]) for lang in ordered[:MAX_CANDIDATES]]
    return LanguageResult(
        lang=dominant,
        script=dominant_script,
        confidence=round(confidence, 4),
        candidates=candidates,
        mix=mix,
        segments=segments,
    )
