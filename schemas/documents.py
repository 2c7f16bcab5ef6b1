"""Documents as ingestion yields them and the warehouse stores them."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

from pydantic import BaseModel, Field

_SPACE = re.compile(r"\s+")
# Zero-width and direction marks are dropped, not spaced: the Persian non-joiner sits inside words, and some
# extractors (trafilatura) delete it, so the same sentence must hash alike with and without it.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u200e\u200f"), None)


def normalise_for_identity(text: str) -> str:
    """The text as it counts for identity: NFKC, invisible marks dropped, case folded, whitespace collapsed.

    Two copies of a post that differ only in spacing, zero-width characters or case are one document.
    """
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    return _SPACE.sub(" ", text).strip()


def document_id(source_id: str, text: str) -> str:
    """Stable id: a hash of the source and the normalised text (the same post re-fetched is the same document)."""
    digest = hashlib.sha256(f"{source_id}\x1f{normalise_for_identity(text)}".encode())
    return digest.hexdigest()[:32]


def content_hash(text: str) -> str:
    """Hash of the normalised text alone (cross-source duplicates, embedding cache keys)."""
    return hashlib.sha256(normalise_for_identity(text).encode()).hexdigest()[:32]


def identity(source_id: str, text: str) -> tuple[str, str]:
    """(`document_id`, `content_hash`) of a text, normalising it once for both."""
    normalised = normalise_for_identity(text)
    return (hashlib.sha256(f"{source_id}\x1f{normalised}".encode()).hexdigest()[:32],
            hashlib.sha256(normalised.encode()).hexdigest()[:32])


class RawItem(BaseModel):
    """One item as an ingestion adapter yields it, before language and narratives."""

    source_id: str
    external_id: str | None = Field(default=None, description="the source's own id (guid, message id, row id)")
    url: str | None = None
    title: str | None = None
    text: str
    author: str | None = None
    published_at: datetime | None = None
    forwarded_from: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)

    @property
    def full_text(self) -> str:
        """Title and body as one text for language ID and classification."""
        if self.title and not self.text.startswith(self.title):
            return f"{self.title}\n\n{self.text}"
        return self.text

    @property
    def id(self) -> str:
        """The document id this item gets (normalises and hashes the text on every access: keep it when needed
        twice)."""
        return document_id(self.source_id, self.full_text)


class QuarantinedItem(BaseModel):
    """Something that could not be ingested, kept with its reason so nothing is lost silently."""

    source_id: str
    stage: str = Field(description="fetch, parse, item, language, classify, store")
    reason: str
    location: str | None = None
    payload: str | None = Field(default=None, description="the raw item, truncated, for an analyst to inspect")
