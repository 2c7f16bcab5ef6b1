"""Data contracts (pydantic): sources, documents, language results, detections, codebook, runs."""

from pmon.schemas.codebook import Codebook, CodebookError, Narrative, Stance, load_codebook
from pmon.schemas.detections import Classification, NarrativeScore
from pmon.schemas.documents import QuarantinedItem, RawItem, content_hash, document_id, normalise_for_identity
from pmon.schemas.language import TARGET_LANGUAGES, UNDETERMINED, LanguageCandidate, LanguageResult, LanguageSegment
from pmon.schemas.runs import SourceRunStats
from pmon.schemas.sources import SourceConfig, SourceKind, SourcesFile, SourcesFileError, load_sources

__all__ = [
    "TARGET_LANGUAGES",
    "UNDETERMINED",
    "Classification",
    "Codebook",
    "CodebookError",
    "LanguageCandidate",
    "LanguageResult",
    "LanguageSegment",
    "Narrative",
    "NarrativeScore",
    "QuarantinedItem",
    "RawItem",
    "SourceConfig",
    "SourceKind",
    "SourceRunStats",
    "SourcesFile",
    "SourcesFileError",
    "Stance",
    "content_hash",
    "document_id",
    "load_codebook",
    "load_sources",
    "normalise_for_identity",
]
