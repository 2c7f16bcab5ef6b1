"""Uyghur Arabic script (UEY) → Latin script (ULY) transliteration.

The codebook's Uyghur files are written in the Arabic script (Uyghur Ereb Yéziqi) and their Latin twins are
generated with this (`codebooks/tools/ug_transliterate.py`); language identification derives its Latin Uyghur
langdetect profile text with it too.

UEY is an alphabet with every vowel written, so the mapping is one letter for one letter (ا a, ە e, ې é, ى i,
ۆ ö, ۇ u, ۈ ü, ڭ ng, غ gh, خ x, ق q, ۋ w, ...), plus the ULY rules for the apostrophe:

- the hamza carrier ئ starts every word that begins with a vowel and is not written at the start of a word
  (ئۇيغۇر → uyghur); inside a word it becomes ' (مەسئۇل → mes'ul, سۈنئىي → sün'iy).
- ' separates two letters that would otherwise read as a digraph: n'g, n'gh, s'h, z'h, g'h
  (ئىنگلىز → in'gliz, ئىسھاق → is'haq); ڭ itself is ng.
- Arabic punctuation and digits become their Latin forms (، → , ؛ → ; ؟ → ? ٣ → 3); « » and — stay.

Arabic presentation forms (FB50–FDFF, FE70–FEFF) are folded to the base letters first, and the Persian/Arabic
look-alikes people type for Uyghur letters (ه for ە, ک for ك) are read as the Uyghur letter. Anything else passes
through unchanged, so the function is idempotent on Latin text.

Arabic script has no case. With ``capitalize=True`` (what the codebook generator uses), sentence starts and the
place, people and country names of :data:`PROPER_NOUN_STEMS`, :data:`PROPER_NOUN_WORDS` and
:data:`PROPER_NOUN_PHRASES` are capitalised, as ULY text writes them. The lists are what the codebook's texts
need, not a gazetteer.
"""

from __future__ import annotations

import re
import unicodedata

HAMZA = "ئ"

#: One UEY letter → its ULY spelling.
LETTERS: dict[str, str] = {
    "ا": "a", "ە": "e", "ب": "b", "پ": "p", "ت": "t", "ج": "j", "چ": "ch", "خ": "x", "د": "d", "ر": "r",
    "ز": "z", "ژ": "zh", "س": "s", "ش": "sh", "غ": "gh", "ف": "f", "ق": "q", "ك": "k", "گ": "g", "ڭ": "ng",
    "ل": "l", "م": "m", "ن": "n", "ھ": "h", "و": "o", "ۇ": "u", "ۆ": "ö", "ۈ": "ü", "ۋ": "w", "ې": "é",
    "ى": "i", "ي": "y",
}  # fmt: skip

#: Look-alike code points typed for Uyghur letters on Persian/Arabic keyboards.
_LOOKALIKES: dict[str, str] = {
    "ه": "ە",  # Arabic heh: older Uyghur fonts and keyboards used it for e
    "ک": "ك",  # Persian keheh
    "\u0649\u0654": HAMZA,  # alef maksura + combining hamza above (NFC does not compose this pair)
}

#: Pairs of UEY letters whose Latin spellings would run together into a different ULY letter.
_NEEDS_APOSTROPHE: frozenset[tuple[str, str]] = frozenset(
    {("ن", "گ"), ("ن", "غ"), ("س", "ھ"), ("ز", "ھ"), ("گ", "ھ")}
)

_PUNCTUATION: dict[str, str] = {"،": ",", "؛": ";", "؟": "?", "٪": "%", "٫": ".", "٬": ","}
_DIGITS: dict[str, str] = {chr(0x0660 + d): str(d) for d in range(10)} | {chr(0x06F0 + d): str(d) for d in range(10)}
#: Invisible joiners and direction marks that carry no sound.
_DROPPED = {"\u0640", "\u200c", "\u200d", "\u200e", "\u200f", "\u061c"}

#: Word beginnings (UEY) of names that ULY capitalises. Stems, so that suffixed forms match too
#: (خىتاينىڭ → Xitayning, ئامېرىكىلىق → Amérikiliq); kept specific enough not to catch common words.
PROPER_NOUN_STEMS: tuple[str, ...] = (
    # peoples, languages, countries, regions
    "ئۇيغۇر", "خىتاي", "شىنجاڭ", "ئافغان", "تالىبان", "پاكىستان", "ئىران", "رۇسىي", "رۇسچە", "رۇسلار",
    "ئامېرىك", "ياۋرو", "ھىندى", "ھىندۇ", "كەشمىر", "خوراسان", "تاجىك", "ئۆزبېك", "قازاق", "قىرغىز",
    "تۈركىيە", "تۈركىستان", "ئاسىيا", "ئافرىق", "چېچەن", "كاۋكاز", "سۈرىي", "ئىراق", "يەمەن", "قىرىم",
    "سەئۇدى", "ئەرەب", "پۇشتۇ", "پارس", "ئوردۇ", "ئىنگلىز", "ئىسرائىل", "گېرمانىي", "ياپونىي", "سومالى",
    "ئۇكرائىن", "سوۋېت", "شىنخۇا", "قۇدس", "تېلېگرام", "ئىشىد", "ئىسلام", "ئاللاھ", "قۇرئان", "ھەققانى",
    # cities and provinces
    "كابۇل", "قەندەھار", "ھېرات", "دوھا", "موسكۋا", "بېيجىڭ", "تېھران", "دېھلى", "تاشكەنت", "دۈشەنبە",
    "ئالمۇتا", "ئۈرۈمچى", "قەشقەر", "خوتەن", "تۇرپان", "ئاتۇش", "نەنگەرھار", "قۇندۇز", "كۇنار", "بەدەخشان",
    "غەزنى", "خوست", "بەلخ", "نىمرۇز", "ھېلمەند", "ۋەزىرىستان", "باجاۋۇر", "بېلۇجىستان", "تېرمىز",
    "تورخام", "قورغاس", "جىددە", "مەككى", "مەككە", "سىرىنەگەر", "غەززە", "بابرى",
    "ۋاشىنگتون", "راۋالپىندى", "ھەلەپ", "دۇبەي", "خەيبەر", "پەختۇنخۋا", "پاكتىيا", "چاباھار", "جالالاباد",
    "ھەزارە", "ئانارخان", "ئاسسوشىيېتېد",
)  # fmt: skip
#: Whole words (UEY) that are names only on their own, their stems being common words' beginnings:
#: رۇس (Russian) but not رۇسۇم (custom), شام (Syria) but not شامال (wind), ئوش but not ئوشۇ (that).
PROPER_NOUN_WORDS: frozenset[str] = frozenset({"رۇس", "شام", "ئوش", "ئامۇ", "ناتو", "دال"})

#: Multi-word names (UEY) whose every word ULY capitalises; the last word is a stem, so suffixes may follow
#: (ئىسلام دۆلىتىنىڭ → Islam Dölitining). Words are separated by spaces only.
PROPER_NOUN_PHRASES: tuple[str, ...] = (
    "شەرقىي تۈركىستان", "ئوتتۇرا ئاسىيا", "جەنۇبىي ئاسىيا", "ئىسلام دۆلىت", "قىزىل ئاي", "قىزىل كرېست",
    "بىرلەشكەن دۆلەتلەر تەشكىلات", "ئىسلام ھەمكارلىق تەشكىلات", "خەلقئارا پۇل فوند", "دۇنيا بانكى",
    "ياۋروپا ئىتتىپاق", "ئاسسوشىيېتېد پرېس",
)  # fmt: skip

_WORD = re.compile(f"[{''.join(LETTERS)}{HAMZA}]+")
_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([«“\"(\s—-]*)([a-zéöü])")


def _fold(text: str) -> str:
    """Presentation forms → base letters, look-alikes → Uyghur letters, composed hamza."""
    folded = "".join(
        unicodedata.normalize("NFKC", ch) if "\ufb50" <= ch <= "\ufdff" or "\ufe70" <= ch <= "\ufeff" else ch
        for ch in text
    )
    folded = unicodedata.normalize("NFC", folded)
    for source, target in _LOOKALIKES.items():
        folded = folded.replace(source, target)
    return "".join(ch for ch in folded if ch not in _DROPPED)


def _word_to_latn(word: str) -> str:
    """One run of UEY letters (hamza included) → ULY, lower case."""
    out: list[str] = []
    for index, ch in enumerate(word):
        if ch == HAMZA:
            # Word-initial ئ only carries the first vowel; inside a word it is the ULY apostrophe, and at the end
            # of a word (which UEY does not write) it has nothing to separate.
            if 0 < index < len(word) - 1:
                out.append("'")
            continue
        if index and (word[index - 1], ch) in _NEEDS_APOSTROPHE:
            out.append("'")
        out.append(LETTERS[ch])
    return "".join(out)


def _proper_noun_words(words: list[re.Match[str]], text: str) -> set[int]:
    """Indexes of the words of `text` that are (part of) a name ULY capitalises."""
    marked = {k for k, word in enumerate(words) if word.group() in PROPER_NOUN_WORDS}
    marked |= {k for k, word in enumerate(words) if word.group().startswith(PROPER_NOUN_STEMS)}
    for phrase in PROPER_NOUN_PHRASES:
        parts = phrase.split()
        for k in range(len(words) - len(parts) + 1):
            window = words[k : k + len(parts)]
            if (
                all(word.group() == part for word, part in zip(window[:-1], parts[:-1], strict=True))
                and window[-1].group().startswith(parts[-1])
                and all(text[a.end() : b.start()].isspace() for a, b in zip(window, window[1:], strict=False))
            ):
                marked.update(range(k, k + len(parts)))
    return marked


def _capitalize_first(latin: str) -> str:
    return latin[:1].upper() + latin[1:]


def uyghur_arabic_to_latin(text: str, *, capitalize: bool = False) -> str:
    """Transliterate Uyghur from the Arabic script (UEY) to the Latin script (ULY).

    Args:
        text: Uyghur in Arabic script; presentation forms and common look-alike letters are accepted.
        capitalize: upper-case the first letter of each sentence and of the names listed in
            :data:`PROPER_NOUN_STEMS`, :data:`PROPER_NOUN_WORDS` and :data:`PROPER_NOUN_PHRASES`. Off by default,
            so that one word maps to one lower-case word.

    Returns:
        The same text in ULY; Arabic punctuation and digits converted, everything that is not Uyghur Arabic
        (Latin, Cyrillic, other punctuation) unchanged.

    Example:
        >>> uyghur_arabic_to_latin("ئۇيغۇر، شىنجاڭ، مەسئۇل، ئىنگلىزچە")
        "uyghur, shinjang, mes'ul, in'glizche"
        >>> uyghur_arabic_to_latin("خىتاي شىركىتى. شەرقىي تۈركىستاندا قار ياغدى.", capitalize=True)
        'Xitay shirkiti. Sherqiy Türkistanda qar yaghdi.'
    """
    folded = _fold(text)
    words = list(_WORD.finditer(folded))
    capitalized = _proper_noun_words(words, folded) if capitalize else set()
    out: list[str] = []
    position = 0
    for index, word in enumerate(words):
        out.extend(_PUNCTUATION.get(ch) or _DIGITS.get(ch) or ch for ch in folded[position : word.start()])
        latin = _word_to_latn(word.group())
        out.append(_capitalize_first(latin) if index in capitalized else latin)
        position = word.end()
    out.extend(_PUNCTUATION.get(ch) or _DIGITS.get(ch) or ch for ch in folded[position:])
    latin_text = "".join(out)
    if capitalize:
        latin_text = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2) + m.group(3).upper(), latin_text)
    return latin_text
