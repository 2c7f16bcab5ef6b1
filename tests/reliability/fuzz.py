"""Fuzz the ingestion path with generated bad input: zero crashes, every bad item in quarantine, good items kept.

Each case is one source (a file, or a URL on a hostile local HTTP server) holding one kind of bad input and,
where the kind allows, good "canary" items beside it. Every case goes through the real path of a run:
`read_source` with the safe fetcher, then the warehouse (`store_batch` for the items, `quarantine` for the
problems). A case passes when nothing raised, its bad input is in the quarantine table with a reason, and its
canaries (or, for text that is odd but valid, the item itself, cleaned) are among the stored documents.

Usage:
    .venv/bin/python -m tests.reliability.fuzz --n 1000 [--seed 7] [--db fuzz.duckdb] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmon.ingestion import IngestLimits, SafeFetcher, read_source
from pmon.schemas.detections import Classification
from pmon.schemas.documents import RawItem
from pmon.schemas.language import LanguageResult
from pmon.schemas.sources import SourceConfig
from pmon.warehouse import Warehouse
from tests.reliability.hostile import HostileServer

#: The limits the fuzz runs under: small enough that bombs, big items and slow drips are cheap to try.
LIMITS = IngestLimits(
    timeout_seconds=2, max_redirects=3, max_response_bytes=3_000_000, max_item_chars=20_000, max_source_seconds=1.0,
    allowed_private_hosts=["127.0.0.1"],  # the hostile server only; redirects elsewhere stay refused
)

GOOD = [
    "Traders said the price of flour rose again this week in the northern districts.",
    "Нархи орд дар бозорҳои шимол боз боло рафт, мегӯянд савдогарон.",
    "Savdogarlar bu hafta un narxi yana oshganini aytdi.",
    "بازرگانان گفتند که قیمت آرد این هفته دوباره بالا رفت.",
    "سوداګرو وویل چې د اوړو بیه بیا لوړه شوې ده.",
    "سودىگەرلەر بۇ ھەپتە ئۇن باھاسىنىڭ يەنە ئۆرلىگەنلىكىنى ئېيتتى.",
]
#: Code points that hostile text is made of: controls, bidi overrides, zero-width, surrogates, RTL, combining.
HOSTILE_POINTS = (
    [chr(c) for c in range(0, 32)] + ["\x7f", "\x85", "\u2028", "\u2029"] + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)] + ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff",
    "\u00ad", "\ufffd", "\ud800", "\udfff", "\ud83d", "\u0301", "\u0670", "\ufdfd", "\U0001f600", "<", ">", "&", '"']
)
Expect = str  # "quarantine": the bad input must be quarantined; "accept": it is odd but valid and must be stored


@dataclass
class Case:
    """One generated source and what must become of it."""

    id: str
    kind: str  # source kind
    generator: str
    expect: Expect
    location: str
    canaries: list[str] = field(default_factory=list)  # good texts stored beside the bad input
    expected_texts: list[str] = field(default_factory=list)  # texts that must be stored exactly (decoding checks)
    source_extra: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None  # a quarantine reason must hold this (the real cause, not just any refusal)


@dataclass
class Report:
    """Counts of a fuzz run."""

    cases: int = 0
    crashes: int = 0
    quarantined_as_expected: int = 0
    missed: int = 0  # bad input that reached no quarantine row
    accepted_as_expected: int = 0
    wrongly_quarantined: int = 0  # valid (odd) input that did not make it to the documents
    canaries_lost: int = 0
    quarantine_rows: int = 0
    documents: int = 0
    seconds: float = 0.0
    by_generator: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No crash, nothing missed, nothing lost."""
        return not (self.crashes or self.missed or self.wrongly_quarantined or self.canaries_lost)


# -- generators: each writes one case's bytes (a file, or a route on the server) -----------------------------------
class Workshop:
    """Where cases are made: a folder for files, a hostile server for URLs, and a seeded random source."""

    def __init__(self, folder: Path, server: HostileServer, rng: random.Random) -> None:
        self.folder, self.server, self.rng = folder, server, rng

    def hostile_text(self, length: int = 40, surrogates: bool = True) -> str:
        """Valid words with hostile code points mixed in (lone surrogates only where an escape can carry them)."""
        points = HOSTILE_POINTS if surrogates else [p for p in HOSTILE_POINTS if not "\ud800" <= p <= "\udfff"]
        words = self.rng.choice(GOOD).split()
        out = []
        for word in words[: max(3, length // 8)]:
            out.append(word)
            if self.rng.random() < 0.6:
                out.append("".join(self.rng.choice(points) for _ in range(self.rng.randint(1, 4))))
        return " ".join(out)

    def file(self, case_id: str, name: str, content: bytes) -> str:
        path = self.folder / case_id
        path.mkdir()
        (path / name).write_bytes(content)
        return str(path / name)

    def url(self, case_id: str, body: bytes, **route: Any) -> str:
        return self.server.route(f"/{case_id}", body, **route)

    def canaries(self, k: int = 2, non_ascii: bool = False) -> list[str]:
        pool = [text for text in GOOD if not text.isascii()] if non_ascii else GOOD
        return [f"{self.rng.choice(pool)} ({self.rng.randrange(10**9)})" for _ in range(k)]


def _rss(items: list[str], declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return f'{declaration}<rss version="2.0"><channel><title>fuzz</title>{"".join(items)}</channel></rss>'


def _item(guid: str, text: str) -> str:
    from xml.sax.saxutils import escape

    return f"<item><guid>{guid}</guid><title>t {guid}</title><description>{escape(text)}</description></item>"


def gen_broken_xml(w: Workshop, cid: str) -> Case:
    head = _rss([])[: w.rng.randint(10, 60)]
    junk = bytes(w.rng.randrange(256) for _ in range(w.rng.randint(0, 200))).replace(b"<item", b"")
    url = w.url(cid, head.encode() + junk, headers={"Content-Type": "text/xml"})
    return Case(cid, "feed", "broken_xml", "quarantine", url)


def gen_entity_expansion(w: Workshop, cid: str) -> Case:
    depth, fan = w.rng.randint(2, 9), w.rng.randint(2, 12)
    name = "".join(w.rng.choice("abcdefgh") for _ in range(4))
    entities = [f'<!ENTITY {name}0 "{name}">'] + [
        f'<!ENTITY {name}{i} "{("&" + name + str(i - 1) + ";") * fan}">' for i in range(1, depth)
    ]
    if w.rng.random() < 0.3:
        entities.append(f'<!ENTITY ext SYSTEM "file:///etc/{w.rng.choice(["passwd", "hostname", "shadow"])}">')
    doc = f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(entities)}]>' + _rss([_item("1", f"&{name}{depth - 1};")], "")
    encoding = w.rng.choice(["utf-8", "utf-16"])
    content = doc.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>').encode(encoding)
    url = w.url(cid, content, headers={"Content-Type": "application/xml"})
    return Case(cid, "feed", "entity_expansion", "quarantine", url)


def gen_compression_bomb(w: Workshop, cid: str) -> Case:
    size = w.rng.choice([5_000_000, 20_000_000, 60_000_000])
    body, encoding = gzip.compress(b"<rss>" + b" " * size, 9), "gzip"
    if w.rng.random() < 0.3:
        body, encoding = zlib.compress(b"<rss>" + b"A" * size, 9), "deflate"
    return Case(cid, "feed", "compression_bomb", "quarantine", w.url(cid, body, headers={"Content-Encoding": encoding}))


def gen_bad_encoding_header(w: Workshop, cid: str) -> Case:
    choice = w.rng.choice(["gzip, gzip", "br", "zstd", "gzip-truncated", "gzip-garbage"])
    payload = _rss([_item("1", w.rng.choice(GOOD))]).encode()
    if choice == "gzip-truncated":
        body, header = gzip.compress(payload)[: w.rng.randint(12, 30)], "gzip"
    elif choice == "gzip-garbage":
        body, header = b"\x1f\x8b\x08\x00" + bytes(w.rng.randrange(256) for _ in range(50)), "gzip"
    else:
        body, header = gzip.compress(gzip.compress(payload)), choice
    return Case(cid, "feed", "content_encoding", "quarantine", w.url(cid, body, headers={"Content-Encoding": header}))


def gen_wrong_content_type(w: Workshop, cid: str) -> Case:
    magic, ctype = w.rng.choice([
        (b"\x89PNG\r\n\x1a\n", "image/png"), (b"%PDF-1.7\n", "application/pdf"), (b"PK\x03\x04", "application/zip"),
        (b"\xff\xd8\xff\xe0", "application/octet-stream"), (b"GIF89a", "text/xml"), (b"\x7fELF\x02", "text/plain"),
        (b"<!DOCTYPE html><html><body><p>a page</p></body></html>", "text/html"),
    ])
    body = magic + bytes(w.rng.randrange(256) for _ in range(w.rng.randint(0, 300)))
    kind = w.rng.choice(["feed", "telegram", "jsonl"])
    return Case(cid, kind, "wrong_content_type", "quarantine", w.url(cid, body, headers={"Content-Type": ctype}))


def gen_http_failure(w: Workshop, cid: str) -> Case:
    choice = w.rng.choice(["status", "loop", "private-redirect", "metadata-redirect", "empty"])
    if choice == "status":
        url = w.url(cid, b"", status=w.rng.choice([400, 403, 404, 410, 429, 500, 502, 503]))
    elif choice == "loop":
        url = w.url(cid, b"", status=302, headers={"Location": f"/{cid}"})
    elif choice == "private-redirect":
        target = w.rng.choice(["http://10.0.0.1/", "http://192.168.1.1/admin", "http://[::1]:8080/", "file:///etc/passwd",
                               "http://0x7f.1/", "http://[::ffff:10.1.1.1]/"])
        url = w.url(cid, b"", status=w.rng.choice([301, 302, 307]), headers={"Location": target})
    elif choice == "metadata-redirect":
        url = w.url(cid, b"", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    else:
        url = w.url(cid, b"", headers={"Content-Type": "application/rss+xml"})
    return Case(cid, "feed", "http_failure", "quarantine", url)


def gen_slow_drip(w: Workshop, cid: str) -> Case:
    body = _rss([_item("1", w.rng.choice(GOOD))]).encode()
    return Case(cid, "feed", "slow_drip", "quarantine", w.url(cid, body, drip=20, pause=0.4))


def gen_mixed_encoding_feed(w: Workshop, cid: str) -> Case:
    canaries = w.canaries(2, non_ascii=True)  # UTF-8 beyond ASCII beside the windows-1251 item: truly mixed
    bad_text = w.rng.choice(["Нархи нон дар бозор", "Цены на муку выросли"]).encode(w.rng.choice(["cp1251", "koi8_r"]))
    items = [_item("c0", canaries[0]).encode(), b"<item><guid>bad</guid><title>b</title><description>" + bad_text
             + b"</description></item>", _item("c1", canaries[1]).encode()]
    w.rng.shuffle(items)
    body = _rss([]).encode().replace(b"</channel>", b"".join(items) + b"</channel>")
    url = w.url(cid, body, headers={"Content-Type": "text/xml"})
    return Case(cid, "feed", "mixed_encoding_feed", "quarantine", url, canaries)


def gen_legacy_encoding(w: Workshop, cid: str) -> Case:
    text, encoding = w.rng.choice([("Нархи орд дар бозор боло рафт ва мардум нигаронанд", "cp1251"),
                                   ("Цены на муку на рынке снова выросли", "koi8_r"),
                                   ("قيمت آرد در بازار دوباره بالا رفت و مردم نگران هستند", "cp1256")])
    if w.rng.random() < 0.5:
        body = _rss([_item("1", text)], "").encode(encoding)
        return Case(cid, "feed", "legacy_encoding", "accept", w.url(cid, body, headers={"Content-Type": "text/xml"}),
                    expected_texts=[text])
    line = json.dumps({"id": "1", "text": text}, ensure_ascii=False).encode(encoding)
    return Case(cid, "jsonl", "legacy_encoding", "accept", w.file(cid, "drop.jsonl", line), expected_texts=[text])


def gen_feed_bad_entry(w: Workshop, cid: str) -> Case:
    canaries = w.canaries(2)
    bad = w.rng.choice([
        "<item><guid>e</guid></item>", "<item><title></title><description>   </description></item>",
        "<item><description>\u200b\u2060\u200b</description></item>", "<item><title><![CDATA[]]></title></item>",
    ])
    items = [_item("c0", canaries[0]), bad, _item("c1", canaries[1])]
    url = w.url(cid, _rss(items).encode("utf-8", "surrogatepass"))
    return Case(cid, "feed", "feed_bad_entry", "quarantine", url, canaries)


def gen_feed_odd_text(w: Workshop, cid: str) -> Case:
    text = w.hostile_text(60, surrogates=False).replace("<", " ").replace("&", " ").replace("]]>", " ")
    nested = "<div>" * w.rng.choice([1, 300, 5000]) + text + "</div>" * 10
    body = _rss([f"<item><guid>o</guid><title>odd</title><description><![CDATA[{nested}]]></description></item>"])
    return Case(cid, "feed", "feed_odd_text", "accept", w.url(cid, body.encode("utf-8")))


def gen_jsonl_bad_line(w: Workshop, cid: str) -> Case:
    canaries = w.canaries(2, non_ascii=True)  # so a windows-1251 line is a mixed file, not a legacy one
    bad = w.rng.choice([
        b'{"text": "unterminated', b"[" * w.rng.randint(2000, 50_000), b'"a string"', b"123", b"null",
        b'{"id": 1}', b'{"text": ""}', b'{"text": "   \\t  "}', b'{"text": "\\u200b\\ufeff"}', b'{"text": 42}',
        "Нархи нон".encode("cp1251"), b'{"text": "' + "Нархи нон".encode("cp1251") + b'"}',
        b"{" + bytes(w.rng.randrange(32, 127) for _ in range(60)),
    ])
    lines = [json.dumps({"text": canaries[0]}, ensure_ascii=False).encode(), bad,
             json.dumps({"text": canaries[1]}, ensure_ascii=False).encode()]
    return Case(cid, "jsonl", "jsonl_bad_line", "quarantine", w.file(cid, "drop.jsonl", b"\n".join(lines)), canaries)


def gen_oversized_item(w: Workshop, cid: str) -> Case:
    canaries = w.canaries(2)
    size = w.rng.choice([25_000, 100_000, 1_000_000])
    big = json.dumps({"text": ("слово word " * (size // 10 + 1))[:size]}, ensure_ascii=False).encode()
    lines = [json.dumps({"text": canaries[0]}, ensure_ascii=False).encode(), big,
             json.dumps({"text": canaries[1]}, ensure_ascii=False).encode()]
    return Case(cid, "jsonl", "oversized_item", "quarantine", w.file(cid, "drop.jsonl", b"\n".join(lines)), canaries)


def gen_jsonl_odd_text(w: Workshop, cid: str) -> Case:
    ascii_escapes = w.rng.random() < 0.5  # only JSON escapes can carry lone surrogates in a UTF-8 file
    record = {"id": w.rng.choice([1, "x", None, 2.5, [1]]), "text": w.hostile_text(50, surrogates=ascii_escapes),
              "title": w.rng.choice([None, w.hostile_text(10, surrogates=ascii_escapes), ["list"], {"a": 1}, 7]),
              "published_at": w.rng.choice([None, "garbage", "2026-02-30", 10**15, -5, "2026-11-01T10:00:00Z", True]),
              "url": w.rng.choice([None, "javascript:alert(1)", "http://ok.example/a", "\x00http://x"])}
    line = json.dumps(record, ensure_ascii=ascii_escapes)
    return Case(cid, "jsonl", "jsonl_odd_text", "accept", w.file(cid, "drop.jsonl", line.encode("utf-8")))


def gen_csv_bad(w: Workshop, cid: str) -> Case:
    choice = w.rng.choice(["no-text-column", "empty-row-text", "mixed-bytes"])
    canaries = w.canaries(2, non_ascii=choice == "mixed-bytes")
    if choice == "no-text-column":
        return Case(cid, "csv", "csv_bad", "quarantine", w.file(cid, "drop.csv", b"id,body\n1,hello\n"))
    bad = b"9,\n" if choice == "empty-row-text" else b'9,"' + "Нархи нон".encode("cp1251") + b'"\n'
    rows = [b"id,text\n", f'1,"{canaries[0]}"\n'.encode(), bad, f'2,"{canaries[1]}"\n'.encode()]
    return Case(cid, "csv", "csv_bad", "quarantine", w.file(cid, "drop.csv", b"".join(rows)), canaries)


def gen_telegram_bad(w: Workshop, cid: str) -> Case:
    canaries = w.canaries(2)
    bad = w.rng.choice([
        {"type": "message", "text": "a message with no id"}, None, "a string", [1, 2],
        {"id": {"x": 1}, "type": "message", "text": "odd id"}, {"id": True, "type": "message", "text": "bool id"},
        {"id": "", "type": "message", "text": "empty id"},
    ])
    if w.rng.random() < 0.2:
        export: object = w.rng.choice([{"messages": "nope"}, [], {"name": "c"}, {"messages": {"1": {}}}])
        canaries = []
    else:
        export = {"name": "c", "messages": [
            {"id": 1, "type": "message", "text": canaries[0]},
            bad,
            {"id": 2, "type": "message", "text": [{"type": "bold", "text": canaries[1]}]},
        ]}
    folder = Path(w.file(cid, "result.json", json.dumps(export, ensure_ascii=False).encode())).parent
    return Case(cid, "telegram", "telegram_bad", "quarantine", str(folder), canaries)


def gen_html_bad(w: Workshop, cid: str) -> Case:
    choice = w.rng.choice(["deep", "empty", "garbage", "script-only"])
    if choice == "deep":
        body = ("<html><body>" + "<div>" * w.rng.randint(300, 60_000) + "<p>x</p></body></html>").encode()
    elif choice == "empty":
        body = b""
    elif choice == "garbage":
        body = bytes(w.rng.randrange(32, 256) for _ in range(w.rng.randint(1, 500)))
    else:
        body = b"<html><head><script>var a = 1;</script></head><body></body></html>"
    return Case(cid, "html", "html_bad", "quarantine", w.url(cid, body, headers={"Content-Type": "text/html"}))


def gen_trusted_source_redirect(w: Workshop, cid: str) -> Case:
    # A source trusted with the private network redirects to another private host: refused before connecting (#14).
    # Loopback targets only, so that even a regression sends nothing beyond this machine.
    port = w.server.port
    target = w.rng.choice([f"http://localhost:{port}/{cid}-x", f"http://127.0.0.2:{port}/{cid}-x", f"http://[::1]:{port}/"])
    url = w.url(cid, b"", status=w.rng.choice([301, 302, 307, 308]), headers={"Location": target})
    return Case(cid, "feed", "trusted_source_redirect", "quarantine", url, source_extra={"allow_private_network": True},
                reason="redirect from")


def gen_hidden_entity(w: Workshop, cid: str) -> Case:
    # <!ENTITY where a search of the first megabyte of raw bytes does not see it (#14).
    doctype = '<!DOCTYPE rss [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    body = _rss([_item("1", "x").replace(">x<", ">&b;<")], "")
    choice = w.rng.choice(["late", "utf-7", "utf-16-le", "utf-16-be", "utf-32-le"])
    if choice == "late":
        padding = "pad " * w.rng.randint(260_000, 400_000)
        content = ('<?xml version="1.0"?><!--' + padding + "-->" + doctype + body).encode()
    elif choice == "utf-7":
        hidden = doctype.replace("<!", "+ADwAIQ-").replace(">", "+AD4-")
        content = ('<?xml version="1.0" encoding="utf-7"?>' + hidden + body).encode("ascii")
    else:
        content = (f'<?xml version="1.0" encoding="{choice[:6]}"?>' + doctype + body).encode(choice)
    url = w.url(cid, content, headers={"Content-Type": "application/xml"})
    return Case(cid, "feed", "hidden_entity", "quarantine", url, reason="entity declarations")


#: Mild synthetic sentences in scripts whose legacy encodings feeds still use.
CHARSET_TEXTS = [
    ("£5 … naïve café: bread costs “more”", "cp1252", "windows-1252"),
    ("今日は市場でパンの値段が上がりました", "euc_jp", "EUC-JP"),
    ("今日は市場でパンの値段が上がりました", "shift_jis", "Shift_JIS"),
    ("מחירי הלחם בשוק עלו השבוע", "cp1255", "windows-1255"),
    ("Цены на муку на рынке снова выросли", "koi8_r", "KOI8-R"),
]


def gen_declared_charset(w: Workshop, cid: str) -> Case:
    # Evidence a feed gives of its charset: the HTTP header, the XML declaration, or the UTF-16/32 shape (#14).
    text, codec, label = w.rng.choice(CHARSET_TEXTS)
    where = w.rng.choice(["header", "declaration", "wide"])
    if where == "header":
        content, ctype = _rss([_item("1", text)], "").encode(codec), f"application/rss+xml; charset={label}"
    elif where == "declaration":
        declaration = f'<?xml version="1.0" encoding="{label}"?>'
        content, ctype = _rss([_item("1", text)], declaration).encode(codec), "application/xml"
    else:
        wide = w.rng.choice(["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
        declaration = f'<?xml version="1.0" encoding="{wide[:6]}"?>'
        content, ctype = _rss([_item("1", text)], declaration).encode(wide), "text/xml"
    return Case(cid, "feed", "declared_charset", "accept", w.url(cid, content, headers={"Content-Type": ctype}),
                expected_texts=[text])


def gen_ascii_drop_corrupt_line(w: Workshop, cid: str) -> Case:
    # Pure ASCII but for one corrupted line: that line is quarantined, not "detected" as a legacy encoding (#14).
    canaries = [f"Traders said flour prices rose again ({w.rng.randrange(10**9)})",
                f"Officials promised more imports before winter ({w.rng.randrange(10**9)})"]
    junk = bytes(w.rng.choice([0x80, 0x9d, 0xa0, 0xc3, 0xe2, 0xf0, 0xfe, 0xff]) for _ in range(w.rng.randint(1, 12)))
    bad = b'{"id": "bad", "text": "Bread ' + junk + b' costs more"}'
    lines = [json.dumps({"text": canaries[0]}).encode(), bad, json.dumps({"text": canaries[1]}).encode()]
    return Case(cid, "jsonl", "ascii_drop_corrupt_line", "quarantine", w.file(cid, "drop.jsonl", b"\n".join(lines)),
                canaries, reason="line 2: bytes that are not valid UTF-8")


def gen_telegram_full_export(w: Workshop, cid: str) -> Case:
    # A full-account export: chats under chats.list, message ids overlapping between chats (#14).
    texts = [f"{w.rng.choice(GOOD)} ({w.rng.randrange(10**9)})" for _ in range(3)]
    messages = [[{"id": 1, "type": "message", "text": text}] for text in texts]
    export = {"about": "synthetic", "chats": {"about": "chats", "list": [
        {"name": "one", "type": "public_channel", "id": 11, "messages": messages[0]},
        {"name": "two", "type": "private_group", "id": 22, "messages": messages[1]},
    ]}, "left_chats": {"about": "left", "list": [
        {"name": "three", "type": "public_channel", "id": 33, "messages": messages[2]},
    ]}}
    folder = Path(w.file(cid, "result.json", json.dumps(export, ensure_ascii=False).encode())).parent
    return Case(cid, "telegram", "telegram_full_export", "accept", str(folder), expected_texts=texts)


GENERATORS: list[tuple[Callable[[Workshop, str], Case], int]] = [
    (gen_broken_xml, 8), (gen_entity_expansion, 8), (gen_compression_bomb, 3), (gen_bad_encoding_header, 5),
    (gen_wrong_content_type, 8), (gen_http_failure, 8), (gen_slow_drip, 1), (gen_mixed_encoding_feed, 6),
    (gen_legacy_encoding, 4),
    (gen_feed_bad_entry, 6), (gen_feed_odd_text, 5), (gen_jsonl_bad_line, 12), (gen_oversized_item, 3),
    (gen_jsonl_odd_text, 8), (gen_csv_bad, 6), (gen_telegram_bad, 8), (gen_html_bad, 6),
    (gen_trusted_source_redirect, 4), (gen_hidden_entity, 5), (gen_declared_charset, 6),
    (gen_ascii_drop_corrupt_line, 4),
    (gen_telegram_full_export, 3),
]


# -- running and judging -------------------------------------------------------------------------------------------
def _judge(case: Case, wh: Warehouse, report: Report) -> None:
    stored = [row[0] for row in wh.con.execute("SELECT text FROM documents WHERE source_id = ?", [case.id]).fetchall()]
    quarantined = wh.con.execute("SELECT count(*) FROM quarantine WHERE source_id = ?", [case.id]).fetchall()[0][0]
    lost = [c for c in case.canaries if not any(c in text for text in stored)]
    if lost:
        report.canaries_lost += len(lost)
        report.failures.append(f"{case.id} {case.generator}: canary lost: {lost[0][:60]!r}")
    if case.expect == "quarantine":
        rows = wh.con.execute("SELECT reason FROM quarantine WHERE source_id = ?", [case.id]).fetchall()
        reasons = [row[0] for row in rows]
        if quarantined and case.reason is not None and not any(case.reason in reason for reason in reasons):
            report.missed += 1
            report.failures.append(
                f"{case.id} {case.generator}: quarantined, but no reason holds {case.reason!r}: {reasons[:2]}"
            )
        elif quarantined:
            report.quarantined_as_expected += 1
        else:
            report.missed += 1
            report.failures.append(f"{case.id} {case.generator}: bad input not quarantined ({case.location})")
    else:
        clean = stored and all(not any(ord(ch) < 32 and ch != "\n" for ch in text) and "\u202e" not in text
                               for text in stored) and all(t in stored for t in case.expected_texts)
        if clean:
            report.accepted_as_expected += 1
        else:
            report.wrongly_quarantined += 1
            report.failures.append(f"{case.id} {case.generator}: valid odd text not stored cleanly ({case.location})")


def run_fuzz(n: int = 1000, seed: int = 7, db: Path | None = None, workdir: Path | None = None) -> Report:
    """Generate `n` bad inputs, run each through ingestion and the warehouse, and count what became of them."""
    rng = random.Random(seed)
    report = Report()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pmon-fuzz-") as tmp:
        folder = Path(workdir or tmp)
        server = HostileServer().start()
        wh = Warehouse.open(db or Path(tmp) / "fuzz.duckdb")
        try:
            workshop = Workshop(folder, server, rng)
            weights = [weight for _, weight in GENERATORS]
            with SafeFetcher(LIMITS) as fetcher:
                for index in range(n):
                    generate = rng.choices([g for g, _ in GENERATORS], weights)[0]
                    case = generate(workshop, f"fuzz-{index:05d}")
                    report.cases += 1
                    report.by_generator[case.generator] += 1
                    try:
                        source = SourceConfig(id=case.id, kind=case.kind, location=case.location, **case.source_extra)
                        batch = read_source(source, fetcher)
                        _store(wh, batch.items)
                        report.quarantine_rows += wh.quarantine(batch.problems, run_id=f"fuzz-{seed}")
                        report.documents += len(batch.items)
                    except Exception:  # noqa: BLE001 - counting crashes is the point
                        report.crashes += 1
                        crash = traceback.format_exc(limit=3)[-600:]
                        report.failures.append(f"{case.id} {case.generator}: CRASH {crash}")
                        continue
                    _judge(case, wh, report)
        finally:
            wh.close()
            server.stop()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _store(wh: Warehouse, items: list[RawItem]) -> None:
    """Store as the flow does, with an undetermined language and no narratives (no model needed here)."""
    if items:
        wh.store_batch(items, [LanguageResult(lang="und", script="Zyyy", confidence=0.0)] * len(items),
                       [Classification()] * len(items), "fuzz", "fuzz")


def main(argv: list[str] | None = None) -> int:
    """Command line: print the counts; exit 1 on any crash, miss or loss."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="bad inputs to generate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, default=None, help="keep the warehouse here (default: a temp file)")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args(argv)
    report = run_fuzz(args.n, args.seed, args.db)
    counts = {key: value for key, value in report.__dict__.items() if key not in ("failures", "by_generator")}
    counts["by_generator"] = dict(sorted(report.by_generator.items()))
    if args.json:
        print(json.dumps({**counts, "failures": report.failures[:20]}, indent=1))
    else:
        for key, value in counts.items():
            print(f"{key:>24}: {value}")
        for failure in report.failures[:20]:
            print("FAIL", failure)
        print("OK" if report.ok else "NOT OK")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
