"""Narrative detections: what the classifier says about a document."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pmon.schemas.codebook import Stance


class NarrativeScore(BaseModel):
    """One narrative found in a text, with the sentence(s) that drove it."""

    id: str = Field(description="leaf narrative id from the codebook")
    score: float = Field(ge=0.0, le=1.0, description="calibrated probability")
    evidence: list[str] = Field(default_factory=list, description="the sentence(s) that drove the label")


class Classification(BaseModel):
    """The classifier's output for one text."""

    stance: Stance = Stance.none
    stance_score: float = Field(default=0.0, ge=0.0, le=1.0)
    narratives: list[NarrativeScore] = Field(default_factory=list)
    model_version: str = ""
    codebook_version: str = ""
