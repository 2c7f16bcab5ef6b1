"""Checks on fetched bytes before any parser sees them: is this the kind of document the source should give?

A feed URL that starts serving an image, a drop replaced by a zip file, an XML document declaring entities
(the "billion laughs" expansion and external-entity file reads): refused with a reason, before parsing.
"""

from __future__ import annotations

import re

from pmon.ingestion.errors import ParseError
from pmon.ingestion.text import wide_encoding

#: Media types no source kind can be: refused whatever the kind.
_BINARY_TYPES = ("image/", "audio/", "video/", "font/", "model/")
_BINARY_APPLICATION = {
    "application/pdf", "application/zip", "application/gzip", "application/x-gzip", "application/x-tar",
    "application/x-7z-compressed", "application/x-rar-compressed", "application/vnd.rar", "application/x-bzip2",
    "application/x-xz", "application/zstd", "application/wasm", "application/java-archive",
    "application/x-msdownload", "application/x-executable", "application/vnd.ms-excel", "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Magic numbers of binary formats that servers often label wrongly (application/octet-stream, text/plain).
_MAGIC = (
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF file"), (b"PK\x03\x04", "a zip archive"), (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x7fELF", "an executable"), (b"MZ\x90\x00", "a Windows executable"), (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ", "xz-compressed data"), (b"(\xb5/\xfd", "zstd-compressed data"), (b"7z\xbc\xaf", "a 7z archive"),
    (b"\x00\x00\x00\x18ftyp", "an MP4 video"), (b"\x00\x00\x00\x20ftyp", "an MP4 video"),
    (b"OggS", "an Ogg media file"), (b"\x1aE\xdf\xa3", "a WebM/Matroska video"),
)
_ENTITY_DECLARATION = re.compile(r"<!ENTITY", re.IGNORECASE)
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_MAX_NULS = 8


def check_content(content: bytes, content_type: str | None, location: str) -> None:
    """Refuse bytes that are no text document at all (whatever the source kind).

    Args:
        content: the body or file bytes.
        content_type: the Content-Type header ('' or None for local files: then only the bytes are judged).
        location: URL or path, for the message.

    Raises:
        ParseError: a binary media type, binary magic numbers, or NUL bytes in what should be text.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type.startswith(_BINARY_TYPES) or media_type in _BINARY_APPLICATION:
        raise ParseError(f"{location}: wrong content type {media_type!r}: a text document was expected")
    head = content[:64]
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise ParseError(
                f"{location}: the content is {what}, not a text document (content type {media_type or 'none'!r})"
            )
    if (
        content[:4096].count(b"\x00") > _MAX_NULS
        and not content.startswith(_UTF16_32_BOMS)
        and not wide_encoding(content)
    ):
        # Binary formats are full of NUL bytes; a stray one in a text file is only cleaned out of its item.
        raise ParseError(f"{location}: binary content (NUL bytes), not a text document")


def refuse_entity_declarations(text: str, location: str) -> None:
    """Refuse XML that declares entities: the vector of "billion laughs" expansion and external-entity reads.

    No feed needs an internal DTD subset; refusing the document is simpler and safer than trusting every
    parser on the way (feedparser's strict and loose parsers, lxml) to neutralise it. The whole decoded text is
    searched, the very text the parser is then given: no prefix to pad past, no encoding (UTF-7, UTF-16) that
    hides the declaration from a search of the raw bytes.

    Raises:
        ParseError: the document declares an entity.
    """
    found = _ENTITY_DECLARATION.search(text)
    if found:
        raise ParseError(
            f"{location}: XML entity declarations (<!ENTITY, at character {found.start()}) are refused: they are the "
            "vector of entity-expansion (billion laughs) and external-entity attacks, and no feed needs them",
            payload=text[max(0, found.start() - 200) : found.start() + 1800] if found.start() > 2000 else text[:2000],
        )
