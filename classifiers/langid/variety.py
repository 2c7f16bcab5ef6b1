"""Persian variety: Dari (`prs`, Afghanistan) or Iranian Persian (`pes`), for text already identified as `fa`.

Language identifiers put both under one label (CLD2, fastText, GlotLID and OpenLID all do); for monitoring the
difference matters, because Afghan and Iranian media speak to different audiences. Two kinds of evidence add up
on one log-odds scale (positive: Dari):

1. **Cues** (`DARI_CUES`, `IRANIAN_CUES`): words and spellings one variety uses and the other does not — the
   Afghan solar months (حمل، ثور، جوزا … after a day number) against the Iranian ones (فروردین …), the Western
   months as each spells them (جنوری / ژانویه), administrative terms (ولسوالی، شاروالی / استان، شهرستان،
   شهرداری), everyday words (موتر / خودرو, پوهنتون / دانشگاه, شفاخانه / بیمارستان, سرک / خیابان),
   loan-word spellings (دالر / دلار, پولیس / پلیس, امریکا / آمریکا) and currencies (افغانی / تومان). Each
   distinct cue found adds `CUE_WEIGHT`.
2. **A linear model** over character 1–4-grams (within words) and single words, trained by
   `python -m pmon.classifiers.langid.build_variety` on the train part of the shared real text (Dari and
   Iranian Persian marked). It ships as `variety_model.json`: the n-grams and words with their weights, no text.

The sum becomes a probability of Dari; a variety is claimed when the likelier one reaches `MIN_CONFIDENCE`,
otherwise `und`. Text of fewer than `MIN_WORDS` words claims a variety only when its cues are unambiguous (at
least one, all pointing the same way): the model alone says little about a headline of three words.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pmon.schemas.language import DARI, IRANIAN_PERSIAN, UNDETERMINED

MODEL_PATH = Path(__file__).with_name("variety_model.json")
#: Log-odds points per distinct cue word found (the model's own scale: a typical sentence scores within ±4).
CUE_WEIGHT = 2.5
#: Claim a variety only when its probability reaches this; otherwise `und`.
MIN_CONFIDENCE = 0.7
#: Below this many words only unambiguous cues decide.
MIN_WORDS = 5
#: Character n-gram lengths (within words, padded with a space on each side) the model uses.
NGRAM_MIN, NGRAM_MAX = 1, 4

_MONTHS_AFGHAN = "حمل ثور جوزا سرطان اسد سنبله میزان عقرب قوس جدی دلو حوت"
# An Afghan month name is a cue only after a day number or before a year (میزان, جدی, اسد are common words).
_AFGHAN_DATE = re.compile(
    rf"0\s+(?:{'|'.join(_MONTHS_AFGHAN.split())})\b"
    rf"|\b(?:{'|'.join(_MONTHS_AFGHAN.split())})\s+(?:سال\s+)?0"
)

# ولایت is an Afghan province; in Iranian text it is mostly religious guardianship (ولایت فقیه, ولایت امیرالمؤمنین).
_AFGHAN_PROVINCE = re.compile(r"\bولایت(?:های|ها|ی)?\b(?!\s*(?:فقیه|مطلقه|امیر|علی|اهل|ائمه|معصوم))")

#: Words (after `normalize_for_variety`) that Dari writes and Iranian Persian does not.
DARI_CUES: frozenset[str] = frozenset(
    """
    ولسوالی ولسوالیها ولسوال ولسوالان شاروالی شاروال ولایات موتر موترها موترهای موتروان پوهنتون پوهنتونها پوهنځی پوهنحی
    شفاخانه شفاخانهها شفاخانهی سرک سرکها سرکهای جنوری فبروری اپریل اگست سپتمبر اکتوبر نومبر دسمبر دالر دالری پولیس
    امریکا امریکایی امریکاییها تلیفون هوتل انجنیر داکتر داکتران کمپیوتر فیصد معلومات ساحه ساحات قوماندان
    قوماندانی سارنوال سارنوالی تذکره استند لیسه متعلمین متعلم محصلین ملیون ملیارد بیرق قریه قریهها
    ستره جرگه ولسی مشرانو معینیت افغانیها تکت پیلوت عساکر سرحد سرحدات محکمه محاکم منحیث معالجه کمپنی کمپنیها
    کنترول پلان جرمنی جاپان مکسیکو کوریا کوریای اندونیزیا ملیزیا آسترالیا نیویارک واشینگتن دیموکرات دیموکراتها
    دیموکراسی کانگرس تکنالوژی انترنت ویبسایت اولمپیک فابریکه دوسیه پروگرام پروگرامها فلم فلمها رستورانت بریکزیت
    سکاتلند کاندید
    """.split()  # noqa: SIM905 - a word list reads and diffs better as text
)
#: Words that Iranian Persian writes and Dari does not.
IRANIAN_CUES: frozenset[str] = frozenset(
    """
    فروردین اردیبهشت خرداد مرداد شهریور آبان بهمن اسفند استان استانها استانداری استاندار شهرستان شهرستانها
    شهرداری شهردار فرمانداری فرماندار بخشداری خودرو خودروها خودروهای بیمارستان بیمارستانها خیابان ژانویه
    فوریه آوریل ژوئن ژوئیه سپتامبر اکتبر نوامبر دسامبر دلار دلاری پلیس آمریکا آمریکایی تلفن هتل کامپیوتر
    تومان روستا روستاها روستایی دادستان دادستانی دادگستری شناسنامه بنزین واشنگتن نیویورک آلمان ژاپن مکزیک کره
    اندونزی مالزی استرالیا دموکرات دموکراتها دموکراسی کنترل کنگره المپیک کارخانه فیلم فیلمها
    """.split()  # noqa: SIM905 - a word list reads and diffs better as text
)

_ZWNJ = "\u200c"
_DIGITS = re.compile(r"\d+")
_URL = re.compile(r"(?:https?://|www\.)\S+|[@#]\S+", re.IGNORECASE)
# Harakat and invisible marks are typography; hamza above (U+0654) is kept: هٔ against ۀ is an orthographic cue.
_MARKS = re.compile("[\u064b-\u0652\u0670\u0640\u200b\u200d-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_LETTER_FOLDS = str.maketrans({"ك": "ک", "ي": "ی", "ى": "ی", "ة": "ه"})
_WORD = re.compile(r"[^\W\d_]+")


def normalize_for_variety(text: str) -> str:
    """Fold what says nothing about the variety: keyboard variants, ZWNJ, vowel marks, URLs; numbers become 0.

    Arabic ي and ك are folded because some Iranian sites keep them and some Afghan ones too: they tell a
    website's software, not the writer's variety. Numbers become `0` so that a day number still marks a date.
    """
    text = unicodedata.normalize("NFC", text)
    text = _URL.sub(" ", text).replace(_ZWNJ, "").translate(_LETTER_FOLDS)
    text = _MARKS.sub("", text)
    text = _DIGITS.sub("0", text)
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class VarietyResult:
    """A Persian text's variety: `prs`, `pes` or `und`, the probability of that answer, and the cues found."""

    variety: str
    confidence: float
    cues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Model:
    ngrams: dict[str, float]
    words: dict[str, float]
    bias: float


@lru_cache(maxsize=1)
def _model() -> _Model:
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    return _Model(ngrams=data["char_ngrams"], words=data["words"], bias=float(data["bias"]))


def char_ngrams(words: list[str]) -> list[str]:
    """Every character n-gram (`NGRAM_MIN`..`NGRAM_MAX`) of each word padded with one space on each side."""
    grams: list[str] = []
    for word in words:
        padded = f" {word} "
        for size in range(NGRAM_MIN, NGRAM_MAX + 1):
            grams.extend(padded[i : i + size] for i in range(len(padded) - size + 1))
    return grams


def model_score(words: list[str]) -> float:
    """The model's log-odds of Dari for the words of a normalised text (0 for no words).

    As in training: each feature of the model's vocabulary counts once (binary), and each family's sum is scaled
    by 1/sqrt(the number of its features present), its L2 norm.
    """
    model = _model()
    score = model.bias
    for vocabulary, features in ((model.ngrams, set(char_ngrams(words))), (model.words, set(words))):
        weights = [vocabulary[feature] for feature in features if feature in vocabulary]
        if weights:
            score += sum(weights) / math.sqrt(len(weights))
    return score


def find_cues(normalized: str, words: list[str]) -> tuple[list[str], list[str]]:
    """The Dari and the Iranian cues in a normalised text (distinct, in order of appearance)."""
    dari = list(dict.fromkeys(word for word in words if word in DARI_CUES))
    iranian = list(dict.fromkeys(word for word in words if word in IRANIAN_CUES))
    dari += [match.group().strip() for match in _AFGHAN_DATE.finditer(normalized)]
    dari += list(dict.fromkeys(match.group() for match in _AFGHAN_PROVINCE.finditer(normalized)))
    return dari, iranian


def detect_variety(text: str) -> VarietyResult:
    """Tell Dari from Iranian Persian in a text that is Persian (`fa`).

    Args:
        text: Raw text; the caller has already found it to be Persian.

    Returns:
        `VarietyResult` with `prs`, `pes` or `und` (too short without unambiguous cues, or not confident),
        the probability of the answer (for `und`, of the likelier variety) and the cues found.

    Example:
        >>> detect_variety("شاروالی کابل اعلام کرد که موترهای کهنه از سرک‌های شهر جمع‌آوری می‌شوند").variety
        'prs'
    """
    normalized = normalize_for_variety(text)
    words = _WORD.findall(normalized)
    dari, iranian = find_cues(normalized, words)
    cues = tuple(dari + iranian)
    if len(words) < MIN_WORDS:
        if dari and not iranian:
            return VarietyResult(DARI, _probability(CUE_WEIGHT * len(dari)), cues)
        if iranian and not dari:
            return VarietyResult(IRANIAN_PERSIAN, _probability(CUE_WEIGHT * len(iranian)), cues)
        return VarietyResult(UNDETERMINED, 0.5, cues)
    logit = model_score(words) + CUE_WEIGHT * (len(dari) - len(iranian))
    p_dari = 1.0 / (1.0 + math.exp(-logit))
    variety, confidence = (DARI, p_dari) if p_dari >= 0.5 else (IRANIAN_PERSIAN, 1.0 - p_dari)
    if confidence < MIN_CONFIDENCE:
        variety = UNDETERMINED
    return VarietyResult(variety, round(confidence, 4), cues)


def _probability(cue_points: float) -> float:
    return round(1.0 / (1.0 + math.exp(-cue_points)), 4)
