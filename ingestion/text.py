"""Turning bytes into text, markup into plain text, and dates into UTC, whatever a hostile source sends.

Sources lie about their encodings, mix them within one file, and put characters in text that carry no
meaning but change what an analyst sees (bidirectional overrides) or hide words from a detector (zero-width
spaces). Everything an adapter yields passes through :func:`clean_text` / :func:`clean_line`, so the rest
of the pipeline only ever sees valid, printable Unicode.
"""

from __future__ import annotations

import calendar
import codecs
import html
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import lxml.etree
import lxml.html

_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANKS = re.compile(r"\n\s*\n+")
# C0/C1 control characters other than tab and newline carry no text and break terminals and XML.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Invisible characters that only hide or reorder text: explicit bidirectional embeddings, overrides and
# isolates ("Trojan Source" spoofing of what a digest shows), zero-width space, word joiner and invisible
# operators (used to split words past a detector), a BOM inside text, soft hyphen, Mongolian vowel separator.
# ZWNJ/ZWJ (U+200C/U+200D) and the marks LRM/RLM/ALM stay: Persian, Pashto and Uyghur spelling needs them.
_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b\u2060-\u2064\ufeff\u00ad\u180e]")
# Lone surrogates (from JSON escapes like "\\ud83d" cut in half) cannot be encoded as UTF-8 at all.
_SURROGATES = re.compile("[\ud800-\udfff]")
_VALID_NON_ASCII = re.compile("[^\x00-\x7f\ufffd]")
_LINE_BREAKS = str.maketrans({"\u2028": "\n", "\u2029": "\n\n", "\x85": "\n", "\r": "\n"})
_BLOCK_TAGS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section", "article"}
_TAGS = re.compile(r"<[^>]{0,2000}>")
REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """Valid, printable text: surrogates replaced, control and invisible characters dropped, spaces collapsed.

    Paragraph breaks are kept (one blank line at most); Unicode line separators become newlines.

    Example:
        >>> clean_text("Prices\\u202e rose\\x00  in\\u200b Kabul\\r\\n\\r\\n\\r\\nMore")
        'Prices rose in Kabul\\n\\nMore'
    """
    text = _SURROGATES.sub(REPLACEMENT, text.replace("\r\n", "\n").translate(_LINE_BREAKS))
    text = _INVISIBLE.sub("", _CONTROL.sub("", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def clean_line(value: object, max_chars: int = 2000) -> str | None:
    """A one-line field (title, author, id, URL) as clean text, or None when nothing readable is left.

    Non-string values (numbers from JSON) are turned into strings; lists and objects are not a field value.
    """
    if value is None or isinstance(value, bool | list | dict):
        return None
    text = clean_text(str(value)).replace("\n", " ")
    text = _SPACES.sub(" ", text).strip()
    return text[:max_chars] or None


# -- decoding --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decoded:
    """Bytes decoded by :func:`decode_bytes`.

    Attributes:
        text: the text; bytes that were not valid in the chosen encoding are U+FFFD.
        encoding: the encoding used.
        invalid: some bytes were invalid and replaced by U+FFFD: the items that hold a U+FFFD are the damaged
            ones and go to quarantine, the others are fine.
        reason: when `invalid`, why no encoding fitted the whole file (for the quarantine reason).
    """

    text: str
    encoding: str
    invalid: bool
    reason: str | None = None


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
#: Wider encodings first: UTF-32LE text is also a valid, NUL-riddled UTF-16LE text.
_WIDE = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")
#: Labels whose bytes 0x80-0x9F browsers (WHATWG Encoding) and real servers mean as windows-1252.
_LATIN1_LABELS = {"latin_1", "ascii"}
#: Characters that never occur in text: a wide decoding that yields them is a wrong guess.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def wide_encoding(content: bytes) -> str | None:
    """UTF-16 or UTF-32 without a byte-order mark, recognised by its shape: the NUL bytes of ASCII characters.

    feedparser reads such feeds (by the `<?` of their XML declaration); any text qualifies here when its first
    4 KB decode, in one of these encodings, to text free of NULs and control characters.
    """
    head = content[:4096]
    if head.count(b"\x00") < 2 or any(content.startswith(bom) for bom, _ in _BOMS):
        return None
    # The NUL bytes of ASCII characters sit at even offsets in big-endian text, at odd ones in little-endian:
    # "<" is 00 3C in UTF-16BE and 3C 00 in UTF-16LE, and either decodes without error in the other byte order.
    even = sum(1 for index in range(0, len(head), 2) if head[index] == 0)
    big_endian = even > head.count(b"\x00") - even
    for encoding in [e for e in _WIDE if e.endswith("-be") == big_endian]:
        width = 4 if "32" in encoding else 2
        try:
            text = head[: len(head) - len(head) % width].decode(encoding)
        except UnicodeDecodeError:
            continue
        # Markup, JSON and CSV start with ASCII and keep using it: random bytes can decode without error, but
        # hardly ever into text that starts with an ASCII character and has a fair share of them.
        start = text.lstrip()[:1]
        ascii_share = sum(1 for ch in text if ch < "\x80") / max(1, len(text))
        if start.isascii() and start.isprintable() and ascii_share >= 0.05 and not _NOT_TEXT.search(text):
            return encoding
    return None


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "gb18030" if name == "gb2312" else name  # a superset, as feedparser and browsers read it


def _first_invalid(content: bytes, encoding: str) -> str:
    try:
        content.decode(encoding)
    except UnicodeDecodeError as exc:
        return f"byte 0x{content[exc.start]:02x} at offset {exc.start}"
    return "no invalid byte"


def decode_bytes(content: bytes, *declared: str | None) -> Decoded:
    """Decode text whose encoding may be declared wrongly, not at all, or mixed within the file.

    The order of evidence is feedparser's, with one exception for lying declarations:

    1. a byte-order mark, or the NUL pattern of UTF-16/UTF-32 without one;
    2. UTF-8, when the bytes are valid UTF-8 beyond ASCII (servers often declare Latin-1 for UTF-8 text, and
       valid UTF-8 beyond ASCII hardly ever happens by chance);
    3. the declared charsets in the order given (the HTTP header's, then the document's own), the first that
       decodes the whole file (ISO-8859-1 and ASCII read as windows-1252, as browsers do);
    4. detection, for a file with no valid UTF-8 beyond ASCII: the legacy encoding in which its non-ASCII words
       read as a language (windows-1251 Tajik, windows-1256 Persian ...);
    5. else UTF-8 with the invalid bytes replaced and `invalid` set, so that only the damaged items are lost,
       and `reason` saying why nothing fitted.

    Args:
        content: the raw bytes.
        declared: the charsets a header or the document names, strongest evidence first (None: not given).

    Returns:
        The decoded text, the encoding used, whether bytes were replaced, and why.
    """
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            try:
                return Decoded(content.decode(encoding), encoding, False)
            except UnicodeDecodeError:
                break
    wide = wide_encoding(content)
    if wide:
        try:
            return Decoded(content.decode(wide), wide, False)
        except UnicodeDecodeError:
            pass
    try:
        text = content.decode("utf-8")
        if not text.isascii():
            return Decoded(text, "utf-8", False)
    except UnicodeDecodeError:
        text = None
    failures = []
    utf8_declared = False
    for label in declared:
        codec = _codec(label)
        utf8_declared = utf8_declared or codec in ("utf-8", "utf-8-sig")
        # UTF-16/32 was judged by shape above: declared without that shape, the declaration is wrong. UTF-8 was
        # tried above, and is the fallback below.
        if codec is None or codec.startswith(("utf-16", "utf-32", "utf-8")):
            continue
        for candidate in (("cp1252", codec) if codec in _LATIN1_LABELS else (codec,)):
            try:
                return Decoded(content.decode(candidate), candidate, False)
            except UnicodeDecodeError:
                continue
        failures.append(f"declared charset {label} does not decode ({_first_invalid(content, codec)})")
    if text is not None:
        return Decoded(text, "utf-8", False)  # ASCII, read alike by every charset that could be meant
    replaced = content.decode("utf-8", errors="replace")
    valid_non_ascii = len(_VALID_NON_ASCII.findall(replaced))
    if not valid_non_ascii:
        guessed = _guess_legacy_encoding(content)
        if guessed:
            try:
                return Decoded(content.decode(guessed), guessed, False)
            except (LookupError, UnicodeDecodeError):
                pass
    # Legacy multi-byte text (EUC-JP, GBK) holds byte pairs that happen to be valid UTF-8: a file is called mixed
    # only when most of its non-ASCII text is valid UTF-8.
    if valid_non_ascii > replaced.count(REPLACEMENT):
        mixed = "bytes that are not valid UTF-8 in a file that is UTF-8 elsewhere (mixed encodings)"
        reason = "; ".join([mixed, *failures])
    else:
        reason = "; ".join(failures) or (
            "bytes that are not valid UTF-8, " + ("though UTF-8 is declared, " if utf8_declared else "with no charset "
            "declared ") + "and no legacy encoding reading as text")
    return Decoded(replaced, "utf-8", True, reason)


def invalid_utf8_at(raw: bytes) -> str:
    """Where the first byte that is not valid UTF-8 is in `raw` ('byte 0xe9 at column 12'), for a reason."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
    return "no invalid byte"


#: Legacy encodings of the monitored languages: Tajik and Uzbek Cyrillic (windows-1251, KOI8), Persian,
#: Pashto and Uyghur (windows-1256), Latin-script text (windows-1252).
_LEGACY = ("cp1251", "cp1256", "koi8_r", "cp1252")
_MIN_LEGACY_LETTERS = 10
_NON_ASCII_WORDS = re.compile(rb"[^\s<>\"'&;=]*[\x80-\xff][^\s<>\"'&;=]*")


def _guess_legacy_encoding(content: bytes) -> str | None:
    """The legacy encoding in which the non-ASCII words read as a language, judged by CLD2; None when none does.

    General-purpose detectors guess poorly on the short texts of a feed or a message, and almost any high
    byte is a Cyrillic letter in windows-1251; the question asked here is which decoding reads as language.
    Only the words holding non-ASCII bytes are judged: English markup or ASCII lines around one corrupted line
    would otherwise read as English in every encoding and pass the corruption off as text.
    """
    import pycld2

    words = b" ".join(_NON_ASCII_WORDS.findall(content[:200_000]))
    best, best_score = None, 0.0
    for encoding in _LEGACY:
        try:
            text = _CONTROL.sub(" ", words.decode(encoding))
            reliable, _, details = pycld2.detect(text, bestEffort=False)[:3]
        except (UnicodeDecodeError, pycld2.error):
            continue
        # CLD2 calls a few stray Arabic marks "reliable": a language needs words, and its non-ASCII characters
        # are mostly letters.
        non_ascii = [ch for ch in text if ch > "\x7f"]
        if (sum(1 for ch in text if ch.isalpha()) < _MIN_LEGACY_LETTERS
                or sum(1 for ch in non_ascii if ch.isalpha()) < 0.8 * len(non_ascii)):
            continue
        if reliable and details and details[0][1] != "un" and details[0][3] > best_score:
            best, best_score = encoding, float(details[0][3])
    return best


_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{1,40})""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([a-zA-Z0-9_.:-]{1,40})["']""")


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header ('text/html; charset=windows-1251' → 'windows-1251')."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def declared_html_charset(content: bytes, content_type: str | None = None) -> str | None:
    """The charset an HTML page declares: the HTTP header first, then a <meta> in its first 4 KB."""
    match = _META_CHARSET.search(content[:4096])
    return charset_of(content_type) or (match.group(1).decode("ascii") if match else None)


def declared_xml_encoding(content: bytes) -> str | None:
    """The encoding named in an XML declaration, if any."""
    match = _XML_ENCODING.match(content[:512])
    return match.group(1).decode("ascii") if match else None


# -- markup ----------------------------------------------------------------------------------------------------
def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (feed summaries), with block elements as line breaks.

    libxml2 stops building the tree beyond 256 levels of nesting; when a hostile fragment loses its text that
    way, the tags are stripped by pattern instead so the words are not silently dropped.
    """
    if "<" not in fragment and "&" not in fragment:
        return clean_text(fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return clean_text(fragment)
    for element in root.iter("script", "style"):
        element.drop_tree()
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    text = clean_text(root.text_content())
    if not text and "<" in fragment:
        return clean_text(html.unescape(_TAGS.sub(" ", fragment)))
    return text


# -- dates -----------------------------------------------------------------------------------------------------
#: Dates further ahead than this are a source's error (or a trick to stay on top of trends): treated as unknown.
FUTURE_TOLERANCE = timedelta(days=2)


def _plausible(value: datetime) -> datetime | None:
    if value > datetime.now(UTC) + FUTURE_TOLERANCE or value.year < 1990:
        return None
    return value


def struct_to_datetime(value: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time → aware datetime (None stays None, and so do implausible dates)."""
    if value is None:
        return None
    try:
        return _plausible(datetime.fromtimestamp(calendar.timegm(value), tz=UTC))
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def parse_datetime(value: object) -> datetime | None:
    """ISO 8601 strings or Unix seconds → aware UTC datetime; None when absent, unreadable or implausible."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            parsed = datetime.fromtimestamp(int(value), tz=UTC)
        elif isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return _plausible(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
