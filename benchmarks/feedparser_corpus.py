"""pmon's feed reading against feedparser's own test corpus: the same entries, or a reason that names the cause.

For every file of the corpus that feedparser reads entries from (with the HTTP headers its test harness would
send, from the file's `Header:` comments), pmon's path for a fetched feed (`check_content`, then `parse_feed`
with the Content-Type) runs under a time limit, and its items are compared with feedparser's entries passed
through the same text extraction (`html_to_text` of the content or summary). Each file is counted as:

- agree: the same texts in the same order (entries without text quarantined by pmon, as they should be);
- quarantined: pmon refused the document, or some of its entries, with a reason (listed with --verbose);
- differ: pmon stored other texts (listed, with whether either side holds mojibake or U+FFFD);
- crash: anything but a ParseError escaped; hang: over the time limit;
- refused_well_formed_empty: a feed feedparser reads without error but that has no entries, refused by pmon.

Usage (the corpus is not copied into the project; take it from feedparser's repository):
    git --git-dir=<feedparser>/.git archive HEAD tests | tar -x -C /tmp/feedparser-corpus
    .venv/bin/python benchmarks/feedparser_corpus.py /tmp/feedparser-corpus/tests [--verbose] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import feedparser

from pmon.ingestion.content import check_content
from pmon.ingestion.errors import ParseError
from pmon.ingestion.feeds import parse_feed
from pmon.ingestion.text import REPLACEMENT, clean_line, decode_bytes, html_to_text

#: feedparser's test harness reads the HTTP headers of a case from comments like "Header: Content-type: ...".
HEADERS = re.compile(r"^Header:\s+([^:]+):(.*)$", re.MULTILINE)
#: Sequences that UTF-8 read as windows-1252/1251 or Latin-1 leaves behind ("Ã©" for "é", "â€™" for "’").
MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€|Â[\u00a0-\u00bf]|Ð[\u0080-\u00bf]|Ñ[\u0080-\u00bf]|" + REPLACEMENT)
TIME_LIMIT = 10


class Hang(Exception):
    """The file took longer than TIME_LIMIT seconds."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def expected_texts(entries: list[dict]) -> list[str]:
    """What pmon should store of feedparser's entries: the text (or the title) of those that have any."""
    texts = []
    for entry in entries:
        content = entry.get("content")
        body = " ".join(str(part.get("value", "")) for part in content) if content else ""
        body = body or str(entry.get("summary", "") or entry.get("description", ""))
        text = html_to_text(body)
        title = clean_line(html_to_text(str(entry.get("title", ""))))
        if text or title:
            texts.append(text or title or "")
    return texts


def judge(path: Path) -> tuple[str, str]:
    """(category, detail) of one corpus file; category 'skip' when feedparser reads no entries from it."""
    data = path.read_bytes()
    # feedparser's harness decodes the file (by its byte-order mark or UTF-16/32 shape) to find those comments.
    headers = {key.strip().lower(): value.strip() for key, value in HEADERS.findall(decode_bytes(data).text)}
    try:
        reference = feedparser.parse(data, response_headers=headers)
    except Exception as exc:  # noqa: BLE001 - a failure of the reference is not pmon's
        return "skip", f"feedparser raised {type(exc).__name__}"
    if not reference.entries and (reference.bozo or not reference.get("version")):
        return "skip", "feedparser reads no entries"
    expected = expected_texts(reference.entries)
    signal.alarm(TIME_LIMIT)
    try:
        check_content(data, headers.get("content-type"), str(path))
        results = list(parse_feed(data, "corpus", base_url=headers.get("content-location"),
                                  content_type=headers.get("content-type")))
    except ParseError as exc:
        return "quarantined" if reference.entries else "refused_well_formed_empty", str(exc)[:300]
    except Hang:
        return "hang", f"over {TIME_LIMIT}s"
    except Exception as exc:  # noqa: BLE001 - counting crashes is the point
        return "crash", f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.alarm(0)
    if not reference.entries:
        return "skip", "a well-formed feed without entries, read as one"
    texts = [r.text for r in results if not isinstance(r, ParseError)]
    errors = [str(r) for r in results if isinstance(r, ParseError)]
    if texts == expected:
        return "agree", ""
    reasons = [e for e in errors if "has no text" not in e]
    if reasons and set(texts) <= set(expected):
        return "quarantined", f"{len(reasons)} of {len(expected)} entries: {reasons[0][:300]}"
    ours = sum(bool(MOJIBAKE.search(t)) for t in texts)
    theirs = sum(bool(MOJIBAKE.search(t)) for t in expected)
    # The counts may differ (the message then says so): compare the pairs there are.
    pairs = zip(texts, expected, strict=False)
    first = next((f"pmon {a[:80]!r} / feedparser {b[:80]!r}" for a, b in pairs if a != b),
                 f"{len(texts)} texts / {len(expected)} entries")
    return "differ", f"mojibake pmon {ours} feedparser {theirs}; {first}"


def main(argv: list[str] | None = None) -> int:
    """Print agreement figures; exit 1 on any crash or hang."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="feedparser's tests/ folder")
    parser.add_argument("--verbose", action="store_true", help="list every file that did not agree")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGALRM, _alarm)
    suffixes = (".xml", ".json", ".rdf", ".rss", ".atom")
    files = sorted(p for p in args.corpus.rglob("*") if p.is_file() and p.suffix in suffixes)
    counts: Counter[str] = Counter()
    details: list[tuple[str, str, str]] = []
    started = time.monotonic()
    for path in files:
        category, detail = judge(path)
        counts[category] += 1
        if category not in ("agree", "skip"):
            details.append((category, str(path.relative_to(args.corpus)), detail))
    seconds = round(time.monotonic() - started, 1)
    read = sum(v for k, v in counts.items() if k != "skip")
    mojibake = sum(
        1 for category, _, detail in details if category == "differ" and not detail.startswith("mojibake pmon 0")
    )
    figures = {"files": len(files), "judged": read, **dict(sorted(counts.items())),
               "differ_with_pmon_mojibake": mojibake, "seconds": seconds}
    if args.json:
        print(json.dumps({**figures, "not_agreeing": details}, indent=1, ensure_ascii=False))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")
        if args.verbose:
            for category, name, detail in details:
                print(f"{category:<12} {name}: {detail}")
    return 1 if counts["crash"] or counts["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
