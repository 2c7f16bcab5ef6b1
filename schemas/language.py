"""Language identification results: what `pmon.classifiers.langid` returns and the warehouse stores."""

from __future__ import annotations

from pydantic import BaseModel, Field

#: The languages this project monitors (ISO 639-1). Persian and Dari are both `fa`.
TARGET_LANGUAGES: tuple[str, ...] = ("en", "tg", "uz", "fa", "ps", "ug")
#: Returned when the detector cannot tell (empty text, digits only, too little evidence).
UNDETERMINED = "und"
#: Persian varieties (ISO 639-3), given with `fa` results: Dari (Afghanistan) and Iranian Persian.
DARI = "prs"
IRANIAN_PERSIAN = "pes"
VARIETIES: tuple[str, ...] = (DARI, IRANIAN_PERSIAN, UNDETERMINED)
#: ISO 15924 codes used here; `Zyyy` (common) when the text has no letters of a known script.
SCRIPTS: tuple[str, ...] = ("Latn", "Cyrl", "Arab", "Zyyy")


class LanguageCandidate(BaseModel):
    """One ranked guess."""

    lang: str = Field(description="ISO 639-1 code, or 'und'")
    score: float = Field(ge=0.0, le=1.0)


class LanguageSegment(BaseModel):
    """A span of a mixed document and the language detected for it."""

    start: int = Field(ge=0, description="character offset in the original text")
    end: int = Field(ge=0)
    lang: str
    script: str


class LanguageResult(BaseModel):
    """Text → language, script, confidence and ranked candidates. Deterministic for a given text."""

    lang: str = Field(description="ISO 639-1 code ('fa' for Persian and Dari), or 'und'")
    script: str = Field(description="ISO 15924: Latn, Cyrl, Arab, or Zyyy when no letters")
    confidence: float = Field(ge=0.0, le=1.0)
    candidates: list[LanguageCandidate] = Field(default_factory=list, description="best first")
    mix: dict[str, float] = Field(
        default_factory=dict,
        description="share of the document's letters per language (segments), e.g. {'ps': 0.8, 'en': 0.2}",
    )
    segments: list[LanguageSegment] = Field(default_factory=list)
    variety: str | None = Field(
        default=None,
        description="Persian only: 'prs' (Dari), 'pes' (Iranian) or 'und' when the text does not say; None otherwise",
    )
    variety_confidence: float | None = Field(default=None, ge=0.0, le=1.0, description="probability of `variety`")
