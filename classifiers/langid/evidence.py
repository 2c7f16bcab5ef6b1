"""Linguistic evidence that needs no model: script, distinctive letters and frequent function words.

Everything here comes from the languages' alphabets and grammars, not from a data set: which letters each
orthography has (Pashto ټ ډ ړ ښ ږ ځ څ ګ ڼ ۍ, Uyghur ې ۆ ۇ ۈ ە ئ, Tajik ғ ӣ қ ӯ ҳ ҷ, Uzbek ў қ ғ ҳ and oʻ gʻ,
Latin Uyghur é ö ü w and gh, Turkish ş ç ğ ı, Kazakh ә ұ і һ, Kazakh and Kyrgyz ң ө ү) and the few dozen most
frequent function words of each language. The detector uses these to settle what the statistical detectors get
wrong: CLD2 has no Latin-script Uyghur at all, and Pashto without its own letters is easily read as Persian.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pmon.classifiers.transliteration import uzbek_latin_to_cyrillic

LATIN, CYRILLIC, ARABIC, COMMON = "Latn", "Cyrl", "Arab", "Zyyy"

#: Languages each script is decided among (targets first, then the neighbours that are confused with them).
SCRIPT_LANGUAGES: dict[str, tuple[str, ...]] = {
    LATIN: ("en", "uz", "ug", "tr"),
    CYRILLIC: ("tg", "uz", "ru", "kk", "ky"),
    ARABIC: ("fa", "ps", "ug", "ar", "ur"),
}

# Letters are counted on the UTF-8 encoding, where a script is a set of lead bytes: Cyrillic U+0400–U+052F is
# 0xD0–0xD4, Arabic U+0600–U+06FF and U+0750–U+077F are 0xD8–0xDB and 0xDD, Latin-1 to Latin Extended-B and the
# modifier letters (U+00C0–U+02FF, Uzbek ʻ included) are 0xC3–0xCB. One bytes.translate maps every byte to its
# class and four bytes.count calls add them up, all in C: several times faster than a pass over the characters.
# Punctuation inside those blocks (Arabic comma, ×, ÷) counts as a letter: the counts decide the script and the
# shares of a mix, where that does not matter.
def _byte_class_table() -> bytes:
    table = bytearray(b"." * 256)
    for byte in range(128):
        if chr(byte).isalpha():
            table[byte] = ord("L")
    classes = {
        "L": range(0xC3, 0xCC),
        "C": range(0xD0, 0xD5),
        "A": (0xD8, 0xD9, 0xDA, 0xDB, 0xDD),
        # Greek, Armenian, Hebrew, Syriac, Thaana, NKo; Indic to Georgian; CJK, Hangul; supplementary planes.
        "O": (*range(0xCD, 0xD0), 0xD5, 0xD6, 0xD7, 0xDC, 0xDE, 0xDF, 0xE0, 0xE1, *range(0xE3, 0xEE), 0xF0),
    }
    for name, lead_bytes in classes.items():
        for byte in lead_bytes:
            table[byte] = ord(name)
    return bytes(table)


_BYTE_CLASSES = _byte_class_table()


@dataclass(frozen=True, slots=True)
class ScriptCounts:
    """How many letters of each script a text has."""

    latin: int
    cyrillic: int
    arabic: int
    other: int

    @property
    def letters(self) -> int:
        """All letters."""
        return self.latin + self.cyrillic + self.arabic + self.other

    @property
    def dominant(self) -> str:
        """ISO 15924 code of the script with most letters; Zyyy when none of Latn, Cyrl, Arab has any."""
        best = max((self.latin, LATIN), (self.cyrillic, CYRILLIC), (self.arabic, ARABIC))
        if best[0] == 0 or best[0] < self.other:
            return COMMON
        return best[1]


def count_scripts(text: str) -> ScriptCounts:
    """Count the letters of each script in `text`.

    Args:
        text: Any text.

    Returns:
        Letter counts for Latin, Cyrillic, Arabic and the other scripts (Greek, Hebrew, Indic, CJK, Hangul, ...).
    """
    classes = text.encode("utf-8", errors="replace").translate(_BYTE_CLASSES)
    return ScriptCounts(classes.count(b"L"), classes.count(b"C"), classes.count(b"A"), classes.count(b"O"))


@dataclass(frozen=True, slots=True)
class LetterGroup:
    """Letters (or digraphs) that only some languages of a script write.

    A text that has them is evidence against every candidate language of the script that does not write them.
    """

    script: str
    marks: tuple[str, ...]
    languages: frozenset[str]
    weight: float
    #: The first letter of each mark: a text with none of them has none of the marks.
    first_letters: frozenset[str]
    #: Whether the marks are letter pairs (oʻ, gh) rather than single letters.
    digraphs: bool


def _group(script: str, marks: str | tuple[str, ...], languages: str, weight: float) -> LetterGroup:
    marks = tuple(marks)
    first_letters = frozenset(mark[0] for mark in marks)
    digraphs = any(len(mark) > 1 for mark in marks)
    return LetterGroup(script, marks, frozenset(languages.split()), weight, first_letters, digraphs)


#: The letter evidence. Weights: 2 for letters a language's orthography requires and no neighbour has, 1 for
#: letters that loan words and names also bring into neighbouring languages.
LETTER_GROUPS: tuple[LetterGroup, ...] = (
    # Cyrillic
    _group(CYRILLIC, "ҷӣӯ", "tg", 2.0),
    _group(CYRILLIC, "ў", "uz be", 2.0),
    _group(CYRILLIC, "ҳ", "tg uz", 2.0),
    _group(CYRILLIC, "қғ", "tg uz kk", 1.5),
    _group(CYRILLIC, "әұһ", "kk tt ba", 2.0),
    _group(CYRILLIC, "ңөү", "kk ky tt ba mn", 2.0),
    _group(CYRILLIC, "і", "kk uk be", 1.0),
    # Russian, Kazakh and Kyrgyz write ы and щ; standard Tajik and Uzbek Cyrillic do not.
    _group(CYRILLIC, "ыщ", "ru kk ky be uk bg tt ba mn", 1.0),
    _group(CYRILLIC, "э", "ru be kk ky tt ba mn uz tg", 1.0),
    _group(CYRILLIC, "ђјљњћџ", "sr mk", 2.0),
    # Latin
    _group(LATIN, ("oʻ", "gʻ"), "uz", 2.0),
    _group(LATIN, "é", "ug fr hu es pt it", 1.5),
    _group(LATIN, "öü", "ug tr tk az de hu fi et", 1.5),
    _group(LATIN, "şçğı", "tr az tk", 2.0),
    _group(LATIN, "ə", "az", 2.0),
    _group(LATIN, "äňýž", "tk de fi et sv cs sk is", 1.5),
    # Uzbek and Latin Uyghur write ch and sh where Turkish, Azerbaijani and Turkmen write ç and ş.
    _group(LATIN, ("ch", "sh"), "en uz ug de fr es pt it nl pl cs sk sq hr bs sr sl id ms tl sw so ca ro", 1.0),
    _group(LATIN, "w", "en ug tk de pl nl", 0.5),
    _group(LATIN, ("gh",), "en ug", 0.5),
    _group(LATIN, "qx", "uz ug az sq", 0.5),
    # Arabic
    _group(ARABIC, "ټډړښږځڅګڼۍ", "ps", 2.0),
    _group(ARABIC, "ې", "ps ug", 1.5),
    _group(ARABIC, "ۆۇۈۋەڭ", "ug ckb kk", 2.0),
    _group(ARABIC, "ٹڈڑںےہ", "ur sd pa", 2.0),
    _group(ARABIC, "ھ", "ur ug sd pa", 0.5),
    _group(ARABIC, "پچژگ", "fa ps ur ug ckb sd pa", 1.5),
    _group(ARABIC, "کی", "fa ps ur sd pa", 1.0),
    _group(ARABIC, "ةأإ", "ar", 1.0),
)

_LETTER_CAP = 3  # a letter seen three times is as telling as one seen thirty times


def letter_evidence(text: str, script: str, candidates: tuple[str, ...]) -> dict[str, float]:
    """Score candidates by the distinctive letters of `text` (0 is neutral, negative is evidence against).

    Args:
        text: Normalised text (see `normalize_for_detection`).
        script: The text's dominant script.
        candidates: Languages to score.

    Returns:
        Points per candidate: for each letter group present, each candidate that does not write those letters
        loses `weight × min(count, 3)`.
    """
    lowered = text.lower()
    points = dict.fromkeys(candidates, 0.0)
    # One findall tells which distinctive letters occur at all; only their groups are counted (str.count, in C).
    pattern = _MARK_LETTERS.get(script)
    present = set(pattern.findall(lowered)) if pattern is not None else set()
    for group in _GROUPS_BY_SCRIPT.get(script, ()):
        if not group.digraphs and present.isdisjoint(group.first_letters):
            continue
        count = 0
        for mark in group.marks:
            count += lowered.count(mark)
        if not count:
            continue
        penalty = group.weight * min(count, _LETTER_CAP)
        for lang in candidates:
            if lang not in group.languages:
                points[lang] -= penalty
    if script == ARABIC and "ئ" in text:
        # A word that starts with ئ is Uyghur spelling (every vowel-initial word); Persian uses ئ inside words.
        initial = len(_WORD_INITIAL_HAMZA.findall(text))
        if initial:
            for lang in candidates:
                if lang != "ug":
                    points[lang] -= 1.5 * min(initial, _LETTER_CAP)
    return points


_GROUPS_BY_SCRIPT: dict[str, tuple[LetterGroup, ...]] = {
    script: tuple(group for group in LETTER_GROUPS if group.script == script) for script in SCRIPT_LANGUAGES
}
_WORD_INITIAL_HAMZA = re.compile(r"(?<!\w)ئ")
# Per script, one character class of its single-letter marks (digraph groups are counted with str.count).
_MARK_LETTERS: dict[str, re.Pattern[str]] = {
    script: re.compile(
        "[" + re.escape("".join(sorted({mark for g in groups if not g.digraphs for mark in g.marks}))) + "]"
    )
    for script, groups in _GROUPS_BY_SCRIPT.items()
}

# Function words: the most frequent words of each language, from its grammar (articles, conjunctions,
# postpositions, pronouns, auxiliaries) plus a few very common nouns and verbs of news text. Words that two
# languages share are listed in both: they then count for both and decide nothing, which is the truth.
_FUNCTION_WORDS: dict[str, str] = {
    "en": """the of and to in is that for it with as was on are be by this have from or an they which not has
        were their been will would at his her its but who all can more than there these also into should other no
        shall any such we you our has had one after about""",
    "uz-Latn": """va bilan uchun bu ham esa boʻlgan boʻlib boʻladi boʻyicha qilish qilib qildi deb bir har
        haqida edi yoki ular biz siz men shu kabi lekin ammo kerak mumkin emas hamda orqali tomonidan oʻz
        oʻzbekiston davlat hamma hech nima qanday endi hali faqat juda yana bor yoʻq muhim soʻng keyin hozir
        ekan etib etdi dedi koʻp katta yangi barcha boshqa ushbu mazkur yil yilda""",
    "ug-Latn": """we bilen üchün bu hem hemde bolghan bolup bolidu boyiche qilish qilip qildi dep bir her heqqide
        idi yaki ular biz siz men shu mushu kebi lékin emma kérek mumkin emes arqiliq teripidin öz dölet hemme
        héch néme qandaq emdi téxi peqet nahayiti yene bar yoq muhim kéyin hazir iken qilidu dédi köp chong
        yéngi barliq bashqa yil yili bolsa dégen üstide""",
    "tr": """ve bir bu da de için ile olarak daha çok gibi ne ama ancak olan kadar sonra önce her şey var yok
        değil mi mı ki şu biz siz ben onlar olduğu ise veya yani göre tarafından üzerinde arasında büyük yeni
        yıl yılında bunun ayrıca""",
    "tg": """ва дар ки аз ба бо барои ин он мебошад аст буд шуд мешавад кард намуда карда шуда ҳам низ то боз
        чун агар вале аммо ё бояд метавонад ҳар ҳама мо шумо ман онҳо вай худ чунин баъд пеш дигар зиёд бисёр
        хеле ҷумҳурии тоҷикистон давлат сол соли рӯз имрӯз мебошанд доранд дорад гардид менамояд бошад ҳастанд
        нест мекунад мекунанд""",
    "ru": """и в не на что с по это как она они к из у за от для о но так же бы его все был была были было
        также который которые при или до уже если только может еще ещё нет чтобы этого этом года году время
        себя более""",
    "kk": """және мен бен пен да де та те бұл осы ол олар үшін деп болып болды болады бар жоқ емес сол қазақстан
        республикасы барлық әр өз тиіс мүмкін туралы арқылы бойынша кейін дейін біз сіз екі бір жыл жылы жаңа
        үлкен көп ең сияқты қандай""",
    "ky": """жана менен бирок үчүн бул ушул ал алар деп болуп болду болот бар жок эмес ошол кыргызстан
        республикасы бардык ар өз тийиш мүмкүн жөнүндө аркылуу боюнча кийин чейин биз сиз мен эки бир жыл
        жылы жаңы чоң көп эң сыяктуу кандай дагы да де эле экен""",
    "fa": """و در به از که این را با است می برای آن هم شد بود کرد ها های یک تا بر نیز اما یا هر اگر باید دارد
        شده کند کنند کرده خواهد شود ما من شما او آنها خود همه چه چون پس پیش بین روی زیر اند بودند هستند
        نمی دیگر خیلی کشور سال نه""",
    "ps": """د په او چې کې ته دی دې یې هم له نه شوي کوي لپاره سره پر وو وي دا هغه دغه یو زه موږ تاسو دوی څه
        کله ځکه خو بیا ډیر ډېر شو شوی شوې کړي کړی کړې کول کېږي کیږي وه ده دي اوس هر ټول ټولو باندې څخه نو لکه
        تر ورته وروسته مخکې کال""",
    "ug-Arab": """ۋە بىلەن ئۈچۈن بۇ بىر ھەم ھەمدە ھەر ھەممە بارلىق بولۇپ بولغان بولىدۇ بولسا قىلىش قىلىپ قىلىدۇ
        قىلغان دەپ دېگەن ئەمەس كېرەك لېكىن ياكى ئۇلار ئۇ بىز سىز مەن مۇشۇ شۇ كۆپ تېخى ھازىر ئۇيغۇر دۆلەت
        ھەققىدە ئارقىلىق بويىچە يېڭى يىل يىلى ئىككى كېيىن يەنە""",
    "ar": """في من على إلى أن عن مع هذا هذه التي الذي كان كانت قد لا ما هو هي أو ثم كل بعد قبل بين عند حتى إن
        لم لن ذلك تلك وقد وفي ومن الى انه أنه عام غير منذ حيث كما لكن أيضا هناك يكون وهو وهي""",
    "ur": """کے کی کا ہے میں اور سے کو نے یہ وہ ہیں تھا تھی تھے پر بھی کہ ایک لیے لئے کر گیا ہو جو نہیں اس ان جس
        کیا ساتھ تک بہت اپنے ہوتا ہوئے رہا سکتا""",
}


def _build_word_table() -> dict[str, tuple[str, ...]]:
    words: dict[str, set[str]] = {}
    for key, text in _FUNCTION_WORDS.items():
        lang = key.split("-")[0]
        variants = set(text.split())
        if key == "uz-Latn":
            variants |= {uzbek_latin_to_cyrillic(word) for word in variants}
        if lang in ("fa", "ps", "ur"):
            # Typed on an Arabic keyboard, ی is ي; Pashto's own ي is also typed as ی: accept both spellings.
            variants |= {word.replace("ی", "ي") for word in variants} | {word.replace("ي", "ی") for word in variants}
        for word in variants:
            words.setdefault(word, set()).add(lang)
    return {word: tuple(sorted(langs)) for word, langs in words.items()}


#: Lower-case function word → languages that use it.
FUNCTION_WORDS: dict[str, tuple[str, ...]] = _build_word_table()
# U+02BB ʻ is a letter (Lm), so oʻzbek is one word without a special case.
_WORD = re.compile(r"[^\W\d_]+")


def words_of(text: str) -> list[str]:
    """Lower-case words of `text` (letters, with Uzbek ʻ inside a word)."""
    return _WORD.findall(text.lower())


def word_evidence(words: list[str]) -> dict[str, int]:
    """Count the distinct function words of each language among `words`.

    A repeated word counts once: repetition of one word says little more about the language than one use.

    Args:
        words: Lower-case words (see `words_of`).

    Returns:
        For each language with at least one hit, how many of its function words occur.
    """
    hits: dict[str, int] = {}
    table = FUNCTION_WORDS
    for word in table.keys() & words:
        for lang in table[word]:
            hits[lang] = hits.get(lang, 0) + 1
    return hits


#: Turkic languages written in Latin script that CLD2 or fastText know. Neither has a Latin-script Uyghur model,
#: and given Latin Uyghur they answer one of these, its nearest relatives.
LATIN_TURKIC: frozenset[str] = frozenset({"uz", "tr", "az", "tk", "kk", "ky", "tt", "ba", "crh", "kaa"})

#: Words that are Latin-script Uyghur and not Uzbek (also when Uzbek is typed without its apostrophes),
#: English or Turkish. Names (Uyghur, Xinjiang) are left out on purpose: English and Uzbek news use them too.
LATIN_UYGHUR_MARKERS: frozenset[str] = frozenset(
    """bilen üchün hemde bolghan bolup bolidu boyiche qilip qilidu dégen dédi heqqide mushu kebi lékin kérek emes
    arqiliq teripidin dölet hemme héch néme qandaq emdi téxi peqet nahayiti yene kéyin köp yéngi barliq bashqa
    üstide""".split()  # noqa: SIM905 - a word list reads and diffs better as text
)
