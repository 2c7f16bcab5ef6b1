"""End-to-end throughput of the `monitor` flow against the raw encoder on the same texts, in the same run.

Generates a multilingual corpus of N documents (English, Tajik, Uzbek in Latin and Cyrillic, Persian/Dari,
Pashto, Uyghur in Arabic and Latin script; short posts and 2-5 kB articles), serves it from a local HTTP server
on 127.0.0.1 (RSS feeds, Telegram exports, full-content feeds, article pages behind a summaries feed, JSONL
drops), runs the real `monitor` flow into a fresh DuckDB warehouse, runs it again with nothing new, and then
replays on the same encoder object exactly the `encode` calls the pipeline made. Prints a few readable lines,
then one JSON line last::

    .venv/bin/python benchmarks/pipeline.py --docs 300          # build and debug size
    .venv/bin/python benchmarks/pipeline.py --docs 2000         # a second size: how cost grows
    .venv/bin/python benchmarks/pipeline.py --docs 100000 --replay-in-flight 0   # the memory goal (hours; no ratio)

How the figures are made:

- ``docs_per_s``: documents stored / wall seconds of the `monitor` flow call (fetch, parse, dedupe, language
  ID, sentence split, encoder, heads, DuckDB writes, trend refresh), with Prefect's ephemeral server already
  started and the model already loaded; both are reported apart (``prefect_startup_s``, ``model_load_s``).
- ``encoder_docs_per_s``: the classifier embeds *sentences* (``split_sentences`` of each document's title and
  text), not whole documents. Every ``encoder.encode`` call the pipeline makes is recorded (texts and batch
  size, to a file, so the recording costs no memory) and replayed afterwards on the same encoder object, one
  call at a time and two in flight as the flow runs them (``--replay-in-flight``); documents / seconds of the
  faster replay is the encoder's ceiling on these texts (``encoder_ceiling`` names it).
  Every sentence of the corpus carries a distinct number, so the classifier's embedding cache never hits and
  the encoder sees the worst case (a real feed repeats boilerplate and does better).
- ``ratio`` = docs_per_s / encoder_docs_per_s (the goal: >= 0.8).
- ``stage_seconds``: the flow's own stage timer (RunSummary). ``busy_seconds``: wall seconds spent inside
  probed calls, summed over threads (stages overlap: two analysis batches run while the flow stores);
  ``thread_cpu_seconds``: CPU seconds of the calling thread in the same calls (for ``encoder.encode`` torch's
  other intra-op threads come on top). The probes are thin timing wrappers around the real functions
  (``encoder.encode``, ``NarrativeClassifier.classify``, ``detect_document``, ``Warehouse.store_batch`` and
  ``save_fetch_state``, ``read_source``, ``parse_feed``, ``parse_page``, ``parse_export``, ``refresh_trends``).
- ``--distinct-sentences N``: each language variety's sentences repeat after its first N (documents stay
  distinct: a post or article is several sentences), so the embedding cache serves the repeats and the encoder
  embeds each sentence once; everything else (fetch, parse, dedupe, language ID, the heads, the warehouse) does
  the work of every document. A 100,000-document run then takes far less than the hours of the worst case; its
  ratio compares with an encoder that did less work, so read it for memory and the other stages only.
- ``peak_rss_mb``: the highest resident memory of this process while the flow ran (sampled every 50 ms; the
  HTTP server runs in its own process and is not counted). ``rss_trace``: [seconds into the flow, RSS MB,
  sentences sent to the encoder so far] every 10 s, to see whether memory grows with the work or levels off.
- ``noop_s``: wall seconds of a second flow call on the same sources and warehouse: every source answers 304
  to the conditional GET, so nothing is parsed or embedded (``noop_encoder_calls`` must be 0);
  ``noop_work_s`` is the flow's own stages, the rest of ``noop_s`` is Prefect's per-run overhead.

The machine is part of the result: the JSON line carries the CPU, cores, torch threads, the encoder's name
(dtype included) and the load average before and after. Take figures to publish on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # run as a plain script from any directory

GOLD_DIR = REPO_ROOT / "eval" / "narratives"
#: Gold files, one per language variety (language + script).
VARIETIES: dict[str, str] = {
    "en-Latn": "en-latn.jsonl",
    "tg-Cyrl": "tg-cyrl.jsonl",
    "uz-Latn": "uz-latn.jsonl",
    "uz-Cyrl": "uz-cyrl.jsonl",
    "fa-Arab": "fa-arab.jsonl",
    "ps-Arab": "ps-arab.jsonl",
    "ug-Arab": "ug-arab.jsonl",
    "ug-Latn": "ug-latn.jsonl",
}
#: Source kinds: (share of the posts or of the articles, documents per source).
POST_KINDS: dict[str, tuple[float, int]] = {"telegram": (0.5, 500), "rss": (0.5, 300)}
ARTICLE_KINDS: dict[str, tuple[float, int]] = {"rss-full": (0.5, 100), "pages": (0.3, 50), "jsonl": (0.2, 200)}
ARTICLE_BYTES = (2000, 5000)  # UTF-8 size of an article body
POST_SENTENCES = (1, 3)
DAYS = 90  # documents are dated over the 90 days before now


# -- corpus ------------------------------------------------------------------------------------------------------
def load_sentence_pool(gold_dir: Path = GOLD_DIR) -> dict[str, list[str]]:
    """Sentence-sized pieces of the gold sets, per variety, as the classifier would split them.

    Splitting first means every piece the classifier later embeds carries its own distinct number (see
    `SentenceSource`), so no piece repeats across documents.
    """
    from pmon.classifiers.narratives import split_sentences

    pool: dict[str, list[str]] = {}
    for variety, name in VARIETIES.items():
        pieces: list[str] = []
        for line in (gold_dir / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                pieces.extend(split_sentences(json.loads(line)["text"]))
        pool[variety] = pieces
    return pool


class SentenceSource:
    """Gold pieces drawn at random, each made unique by a number before its final punctuation.

    The numbers read like the figures news sentences carry ("(4821)") and add 3-5 tokens to a ~35-token piece.
    With `distinct`, each variety's first `distinct` sentences are unique and later ones repeat them (at random),
    so the classifier's embedding cache serves them: a long run whose encoder work stays small.
    """

    def __init__(self, pool: dict[str, list[str]], rng: random.Random, distinct: int = 0) -> None:
        """Args:
            distinct: 0, every sentence unique; N, the first N per variety unique and later ones drawn from them.
        """
        self.pool, self.rng, self.counter = pool, rng, 0
        self.distinct = distinct
        self.made: dict[str, list[str]] = {}

    def sentence(self, variety: str) -> str:
        """One sentence in `variety`: unique, or one of the first `distinct` again once that many were made."""
        if not self.distinct:
            return self._unique(variety)
        made = self.made.setdefault(variety, [])
        if len(made) >= self.distinct:
            return self.rng.choice(made)
        made.append(self._unique(variety))
        return made[-1]

    def _unique(self, variety: str) -> str:
        self.counter += 1
        text = self.rng.choice(self.pool[variety])
        if text[-1] in ".!?؟۔…":
            return f"{text[:-1]} ({self.counter}){text[-1]}"
        return f"{text} ({self.counter})."

    def post(self, variety: str) -> list[str]:
        """A short post: one paragraph of 1-3 sentences."""
        return [" ".join(self.sentence(variety) for _ in range(self.rng.randint(*POST_SENTENCES)))]

    def article(self, variety: str) -> list[str]:
        """An article body of 2-5 kB (UTF-8): paragraphs of 2-4 sentences."""
        target = self.rng.randint(*ARTICLE_BYTES)
        paragraphs: list[str] = []
        size = 0
        while size < target:
            paragraph = " ".join(self.sentence(variety) for _ in range(self.rng.randint(2, 4)))
            paragraphs.append(paragraph)
            size += len(paragraph.encode()) + 2
        return paragraphs

    def title(self, first_sentence: str) -> str:
        """A headline: the first words of the lead sentence."""
        words = first_sentence.split()
        return " ".join(words[: self.rng.randint(5, 8)]).rstrip(".,;:،")


@dataclass
class Doc:
    """One generated document."""

    number: int
    variety: str
    paragraphs: list[str]
    title: str | None
    published_at: datetime

    @property
    def body(self) -> str:
        """The text as a drop or export carries it."""
        return "\n\n".join(self.paragraphs)


@dataclass
class CorpusStats:
    """What `write_corpus` wrote."""

    documents: int = 0
    sources: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_variety: dict[str, int] = field(default_factory=dict)
    body_bytes: int = 0
    served_bytes: int = 0
    sentences: int = 0


def plan_sources(docs: int, article_share: float) -> list[tuple[str, str, int]]:
    """(kind, variety, documents) per source, so that the sources hold exactly `docs` documents.

    Every kind gets at least one source per language variety (when it has that many documents), so that even a
    small corpus covers all six languages in both scripts; larger corpora get more sources of each kind, none
    above the kind's documents per source.
    """
    articles = round(docs * article_share)
    varieties = list(VARIETIES)
    plan: list[tuple[str, str, int]] = []
    for total, kinds in ((docs - articles, POST_KINDS), (articles, ARTICLE_KINDS)):
        remaining = total
        names = list(kinds)
        for index, kind in enumerate(names):
            share, per_source = kinds[kind]
            count = remaining if index == len(names) - 1 else round(total * share)
            remaining -= count
            sources = max(min(len(varieties), count), -(-count // per_source))
            for number in range(sources):
                take = count // sources + (1 if number < count % sources else 0)
                plan.append((kind, varieties[number % len(varieties)], take))
    return plan


def write_corpus(
    out_dir: Path, base_url: str, docs: int, *, article_share: float = 0.3, seed: int = 7,
    now: datetime | None = None, distinct_sentences: int = 0,
) -> CorpusStats:
    """Write `docs` documents as servable media under `out_dir` and the `sources.yaml` that monitors them.

    Sources, each in one language variety (the varieties in turn): Telegram Desktop exports and RSS feeds of
    short posts; full-content RSS feeds, summaries feeds whose items link to article pages (read with
    `fetch_full_text`, i.e. trafilatura), and JSONL drops of 2-5 kB articles. Generation streams one source at
    a time, so memory stays flat at any size.

    Args:
        out_dir: folder to write into (served as the root of `base_url`).
        base_url: where `out_dir` is served, e.g. 'http://127.0.0.1:8765'.
        docs: number of documents.
        article_share: share of the documents that are 2-5 kB articles; the rest are 1-3 sentence posts.
        seed: seed of the composition (same seed, same bytes apart from dates).
        now: documents are dated over the 90 days before it (default: now, UTC).
        distinct_sentences: 0, every sentence unique (the encoder's worst case); N, sentences repeat after the
            first N of each variety.

    Returns:
        Counts of what was written.
    """
    rng = random.Random(seed)
    sentences = SentenceSource(load_sentence_pool(), rng, distinct_sentences)
    now = now or datetime.now(UTC)
    stats = CorpusStats()
    entries: list[str] = []
    number = 0
    for index, (kind, variety, count) in enumerate(plan_sources(docs, article_share)):
        source_id = f"bench-{kind}-{index:05d}"
        batch: list[Doc] = []
        for _ in range(count):
            number += 1
            paragraphs = sentences.post(variety) if kind in POST_KINDS else sentences.article(variety)
            title = None if kind == "telegram" else sentences.title(paragraphs[0])
            published = now - timedelta(seconds=rng.randint(60, DAYS * 86400))
            batch.append(Doc(number, variety, paragraphs, title, published))
        writer = _WRITERS[kind]
        location, extra = writer(out_dir, base_url, source_id, variety, batch)
        stats.documents += len(batch)
        stats.sources += 1
        stats.by_kind[kind] = stats.by_kind.get(kind, 0) + len(batch)
        stats.by_variety[variety] = stats.by_variety.get(variety, 0) + len(batch)
        stats.body_bytes += sum(len(d.body.encode()) for d in batch)
        lang = variety.split("-")[0]
        entries.append(
            f"  - {{id: {source_id}, kind: {'feed' if kind.startswith(('rss', 'pages')) else kind}, "
            f'location: "{location}", expected_langs: [{lang}], allow_private_network: true{extra}}}'
        )
    stats.sentences = sentences.counter
    (out_dir / "sources.yaml").write_text("sources:\n" + "\n".join(entries) + "\n", encoding="utf-8")
    stats.served_bytes = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    return stats


def _rss(source_id: str, base_url: str, items: list[str]) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">\n<channel>\n'
        f"<title>{source_id} (synthetic benchmark feed)</title>\n<link>{base_url}/</link>\n"
        "<description>Synthetic text for a detector benchmark; not real reporting.</description>\n"
        + "".join(items)
        + "</channel>\n</rss>\n"
    )


def _rss_item(doc: Doc, url: str, description: str, content_html: str | None = None) -> str:
    content = f"  <content:encoded>{escape(content_html)}</content:encoded>\n" if content_html else ""
    return (
        f"<item>\n  <title>{escape(doc.title or '')}</title>\n  <link>{escape(url)}</link>\n"
        f'  <guid isPermaLink="false">doc-{doc.number}</guid>\n'
        f"  <pubDate>{format_datetime(doc.published_at, usegmt=True)}</pubDate>\n"
        f"  <description>{escape(description)}</description>\n{content}</item>\n"
    )


def _save_feed(out_dir: Path, base_url: str, source_id: str, items: list[str]) -> str:
    """Write an RSS file of `items` under feeds/ and return its URL."""
    path = out_dir / "feeds" / f"{source_id}.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_rss(source_id, base_url, items), encoding="utf-8")
    return f"{base_url}/feeds/{source_id}.xml"


def _write_rss(out_dir: Path, base_url: str, source_id: str, variety: str, batch: list[Doc]) -> tuple[str, str]:
    items = [_rss_item(d, f"{base_url}/posts/{source_id}/{d.number}", d.body) for d in batch]
    return _save_feed(out_dir, base_url, source_id, items), ""


def _write_rss_full(out_dir: Path, base_url: str, source_id: str, variety: str, batch: list[Doc]) -> tuple[str, str]:
    items = [
        _rss_item(d, f"{base_url}/articles/{source_id}/{d.number}.html", _summary(d.paragraphs[0]),
                  "".join(f"<p>{escape(p)}</p>" for p in d.paragraphs))
        for d in batch
    ]
    return _save_feed(out_dir, base_url, source_id, items), ""


def _write_pages(out_dir: Path, base_url: str, source_id: str, variety: str, batch: list[Doc]) -> tuple[str, str]:
    folder = out_dir / "articles" / source_id
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    direction = "rtl" if variety.endswith("Arab") else "ltr"
    for d in batch:
        url = f"{base_url}/articles/{source_id}/{d.number}.html"
        body = "\n".join(f"      <p>{escape(p)}</p>" for p in d.paragraphs)
        (folder / f"{d.number}.html").write_text(
            f"""<!DOCTYPE html>
<html lang="{variety.split('-')[0]}" dir="{direction}">
<head>
  <meta charset="utf-8">
  <title>{escape(d.title or '')} | {source_id}</title>
  <meta property="og:type" content="article">
  <meta property="article:published_time" content="{d.published_at.isoformat()}">
  <link rel="canonical" href="{escape(url)}">
</head>
<body>
  <header><a href="{base_url}/">{source_id}</a>
    <nav><ul><li><a href="{base_url}/">Home</a></li><li><a href="{base_url}/news/">News</a></li>
    <li><a href="{base_url}/analysis/">Analysis</a></li><li><a href="{base_url}/contact/">Contact</a></li></ul></nav>
  </header>
  <main>
    <article>
      <h1>{escape(d.title or '')}</h1>
      <p class="byline">Staff · <time datetime="{d.published_at.isoformat()}">{d.published_at:%Y-%m-%d}</time></p>
{body}
    </article>
  </main>
  <aside><h2>More</h2><ul><li><a href="{base_url}/articles/">Archive</a></li></ul></aside>
  <footer><p>Synthetic benchmark page rendered by pmon; not real reporting.</p></footer>
</body>
</html>
""",
            encoding="utf-8",
        )
        items.append(_rss_item(d, url, _summary(d.paragraphs[0])))
    return _save_feed(out_dir, base_url, source_id, items), ", fetch_full_text: true"


def _write_telegram(out_dir: Path, base_url: str, source_id: str, variety: str, batch: list[Doc]) -> tuple[str, str]:
    messages = [
        {"id": d.number, "type": "message", "date": d.published_at.strftime("%Y-%m-%dT%H:%M:%S"),
         "date_unixtime": str(int(d.published_at.timestamp())), "from": source_id, "text": d.body}
        for d in batch
    ]
    export = {"name": source_id, "type": "public_channel", "id": zlib.crc32(source_id.encode()) % 10**9,
              "messages": messages}
    path = out_dir / "telegram" / source_id / "result.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(export, ensure_ascii=False, indent=1), encoding="utf-8")
    return f"{base_url}/telegram/{source_id}/result.json", ""


def _write_jsonl(out_dir: Path, base_url: str, source_id: str, variety: str, batch: list[Doc]) -> tuple[str, str]:
    lines = [
        json.dumps({"id": f"doc-{d.number}", "url": f"{base_url}/drops/{source_id}/{d.number}", "title": d.title,
                    "text": d.body, "published_at": d.published_at.isoformat(), "author": "collector-01"},
                   ensure_ascii=False)
        for d in batch
    ]
    path = out_dir / "drops" / f"{source_id}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"{base_url}/drops/{source_id}.jsonl", ""


_WRITERS: dict[str, Callable[[Path, str, str, str, list[Doc]], tuple[str, str]]] = {
    "rss": _write_rss,
    "telegram": _write_telegram,
    "rss-full": _write_rss_full,
    "pages": _write_pages,
    "jsonl": _write_jsonl,
}


def _summary(paragraph: str, limit: int = 160) -> str:
    return paragraph if len(paragraph) <= limit else paragraph[:limit].rsplit(" ", 1)[0] + " …"


# -- the media server, in its own process ------------------------------------------------------------------------
_SERVER = """
import sys, time
sys.path.insert(0, {root!r})
from pmon.ingestion.local_server import serve_directory
with serve_directory({directory!r}) as url:
    print(url, flush=True)
    while True:
        time.sleep(3600)
"""


@contextmanager
def media_server(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 from a child process (so serving costs no GIL or memory here)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER.format(root=str(REPO_ROOT), directory=str(directory))],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"media server did not start (said {url!r})")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- probes ------------------------------------------------------------------------------------------------------
class Probes:
    """Thread-safe busy-seconds and call counters filled by timing wrappers around the real functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, key: str, seconds: float, cpu: float = 0.0, calls: int = 1) -> None:
        """Account `seconds` (wall) and `cpu` (CPU of the calling thread) spent in one call of `key`."""
        with self._lock:
            self.seconds[key] = self.seconds.get(key, 0.0) + seconds
            self.cpu[key] = self.cpu.get(key, 0.0) + cpu
            self.calls[key] = self.calls.get(key, 0) + calls

    def reset(self) -> None:
        """Forget everything (between the first and the no-op run)."""
        with self._lock:
            self.seconds.clear()
            self.cpu.clear()
            self.calls.clear()

    def wrap(self, key: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """`function`, timed under `key`."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(key, time.perf_counter() - started, time.thread_time() - cpu)

        timed.__wrapped__ = function  # type: ignore[attr-defined]
        return timed

    def wrap_generator(self, key: str, function: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        """A generator function, timed under `key` while it computes each item (not while the caller works)."""

        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            iterator = iter(function(*args, **kwargs))
            spent = cpu = 0.0
            while True:
                started, cpu_started = time.perf_counter(), time.thread_time()
                try:
                    item = next(iterator)
                except StopIteration:
                    self.add(key, spent + time.perf_counter() - started, cpu + time.thread_time() - cpu_started)
                    return
                spent += time.perf_counter() - started
                cpu += time.thread_time() - cpu_started
                yield item

        return timed


class EncoderRecorder:
    """Wraps one encoder's `encode`: times each call and appends its texts to a JSONL file for the replay."""

    def __init__(self, encoder: Any, probes: Probes, path: Path) -> None:
        self.encoder, self.probes, self.path = encoder, probes, path
        self.original = encoder.encode
        self._file = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()
        self.texts = 0

    def __enter__(self) -> EncoderRecorder:
        def encode(texts: Any, *, batch_size: int = 32) -> Any:
            texts = list(texts)
            with self._lock:  # outside the timed span: the recording is not the encoder's cost
                self._file.write(json.dumps({"batch_size": batch_size, "texts": texts}, ensure_ascii=False) + "\n")
                self.texts += len(texts)
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return self.original(texts, batch_size=batch_size)
            finally:
                # CPU of the calling thread only: torch's intra-op threads work beside it.
                self.probes.add("encoder.encode", time.perf_counter() - started, time.thread_time() - cpu)

        self.encoder.encode = encode  # an instance attribute shadows the method for this object only
        return self

    def __exit__(self, *exc: object) -> None:
        del self.encoder.encode  # the class's method again
        self._file.close()


def install_probes(probes: Probes) -> Callable[[], None]:
    """Put timing wrappers around the pipeline's stages; returns the function that removes them."""
    import pmon.classifiers.langid as langid
    import pmon.flows.monitor as monitor_module
    from pmon import ingestion
    from pmon.classifiers.narratives import NarrativeClassifier
    from pmon.warehouse import Warehouse

    originals: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, key: str, generator: bool = False) -> None:
        original = getattr(owner, name, None)
        if original is None:  # renamed by a refactoring: that stage goes unprobed, the run goes on
            _say(f"probe {key}: {getattr(owner, '__name__', owner)}.{name} not found, not timed")
            return
        originals.append((owner, name, original))
        setattr(owner, name, probes.wrap_generator(key, original) if generator else probes.wrap(key, original))

    patch(langid, "detect_document", "langid.detect_document")
    patch(NarrativeClassifier, "classify", "classifier.classify")
    patch(Warehouse, "store_batch", "warehouse.store_batch")
    patch(Warehouse, "save_fetch_state", "warehouse.save_fetch_state")
    patch(monitor_module, "read_source", "ingestion.read_source")
    patch(monitor_module, "refresh_trends", "warehouse.refresh_trends")
    patch(ingestion, "parse_feed", "ingestion.parse_feed", generator=True)
    patch(ingestion, "parse_page", "ingestion.parse_page")
    patch(ingestion, "parse_export", "ingestion.parse_export", generator=True)

    def remove() -> None:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)

    return remove


# -- memory ------------------------------------------------------------------------------------------------------
def rss_bytes() -> int:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Samples this process's resident memory every `interval` seconds; `peak_mb()` since the last `reset()`.

    While `trace(progress)` is on, every `trace_every` seconds it also notes (seconds since, RSS MB, progress()),
    so a long run shows whether memory grows with the work done or levels off.
    """

    def __init__(self, interval: float = 0.05, trace_every: float = 10.0) -> None:
        self.interval, self.trace_every = interval, trace_every
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._progress: Callable[[], int] | None = None
        self._trace_started = 0.0
        self.points: list[tuple[float, float, int]] = []

    def _rss(self) -> int:
        return rss_bytes()

    def _run(self) -> None:
        next_point = 0.0
        while not self._stop.wait(self.interval):
            rss = self._rss()
            self._peak = max(self._peak, rss)
            progress = self._progress
            if progress is not None and time.perf_counter() >= next_point:
                next_point = time.perf_counter() + self.trace_every
                self.points.append((round(time.perf_counter() - self._trace_started, 1), round(rss / 2**20, 1),
                                    progress()))

    def start(self) -> RssSampler:
        """Start sampling."""
        self._thread.start()
        return self

    def reset(self) -> None:
        """Start a new peak from the current memory."""
        self._peak = self._rss()

    def trace(self, progress: Callable[[], int] | None) -> None:
        """Note RSS with `progress()` every `trace_every` seconds from now; None: stop noting."""
        self._trace_started = time.perf_counter()
        self._progress = progress

    def peak_mb(self) -> float:
        """Highest sampled RSS since the last reset, in MB."""
        return round(max(self._peak, self._rss()) / 2**20, 1)

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(timeout=1)


# -- the run -----------------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import torch

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": sys.version.split()[0], "torch": torch.__version__}


def process_cpu() -> float:
    """CPU seconds (user + system) of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Replay:
    """What replaying the recorded `encode` calls cost."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    calls: int = 0
    texts: int = 0


def replay(encoder: Any, path: Path, in_flight: int = 1) -> Replay:
    """Replay recorded `encode` calls on `encoder`, in order, `in_flight` at a time.

    With one in flight only the calls themselves are timed; with more (threads, as the flow's two analysis
    batches in flight) the wall time from the first call to the last.
    """
    result = Replay()
    cpu_started = process_cpu()
    with path.open(encoding="utf-8") as recorded:
        if in_flight == 1:
            for line in recorded:
                call = json.loads(line)
                started = time.perf_counter()
                encoder.encode(call["texts"], batch_size=call["batch_size"])
                result.seconds += time.perf_counter() - started
                result.calls += 1
                result.texts += len(call["texts"])
        else:
            from concurrent.futures import Future, ThreadPoolExecutor

            pending: list[Future[Any]] = []
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=in_flight) as pool:
                for line in recorded:  # read as we go: at most `in_flight` calls' texts in memory
                    call = json.loads(line)
                    if len(pending) >= in_flight:
                        pending.pop(0).result()
                    pending.append(pool.submit(encoder.encode, call["texts"], batch_size=call["batch_size"]))
                    result.calls += 1
                    result.texts += len(call["texts"])
                for future in pending:
                    future.result()
            result.seconds = time.perf_counter() - started
    result.cpu_seconds = process_cpu() - cpu_started
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Generate, serve, run the flow twice, replay the encoder; return the figures."""
    workdir = Path(args.workdir).resolve()
    load_before = os.getloadavg()
    sampler = RssSampler().start()
    figures: dict[str, Any] = {"benchmark": "pipeline", "docs_requested": args.docs,
                               "distinct_sentences": args.distinct_sentences or None}
    try:
        media = workdir / "media"
        if media.exists():
            shutil.rmtree(media)
        media.mkdir()
        with media_server(media) as base_url:
            started = time.perf_counter()
            corpus = write_corpus(media, base_url, args.docs, article_share=args.article_share, seed=args.seed,
                                  distinct_sentences=args.distinct_sentences)
            figures["corpus_s"] = round(time.perf_counter() - started, 2)
            _say(f"corpus: {corpus.documents} documents, {corpus.sources} sources, {corpus.sentences} sentences, "
                 f"{corpus.served_bytes / 2**20:.1f} MB served, written in {figures['corpus_s']} s")

            started = time.perf_counter()
            from pmon.classifiers.narratives import load_classifier
            from pmon.flows.monitor import BATCH_SIZE, run_monitor  # first: flows.settings configures Prefect

            # isort: split
            from prefect import flow

            if args.torch_threads:
                import torch

                torch.set_num_threads(args.torch_threads)  # before the first forward pass; applies to the replay too
            classifier = load_classifier()
            encoder = classifier.encoder
            encoder.encode(
                [s for s in load_sentence_pool()["en-Latn"][:64]], batch_size=64
            )  # warm-up: lazy initialisation, allocator, oneDNN kernels
            figures["model_load_s"] = round(time.perf_counter() - started, 2)

            @flow(name="bench-warmup")
            def warmup() -> int:
                return 1

            started = time.perf_counter()
            warmup()  # starts Prefect's ephemeral API server: Prefect's own start-up, kept apart
            figures["prefect_startup_s"] = round(time.perf_counter() - started, 2)
            _say(f"model loaded in {figures['model_load_s']} s ({encoder.name}); "
                 f"Prefect started in {figures['prefect_startup_s']} s")

            batch_size = args.batch_size or BATCH_SIZE
            probes = Probes()
            remove_probes = install_probes(probes)
            db = workdir / "bench.duckdb"
            if db.exists():
                db.unlink()
            calls_file = workdir / "encoder_calls.jsonl"
            sources = media / "sources.yaml"
            try:
                sampler.reset()
                figures["rss_before_mb"] = sampler.peak_mb()
                with EncoderRecorder(encoder, probes, calls_file) as recorder:
                    sampler.trace(lambda: recorder.texts)  # RSS against sentences sent to the encoder
                    started, cpu = time.perf_counter(), process_cpu()
                    summary = run_monitor(sources, db, batch_size=batch_size)
                    wall = time.perf_counter() - started
                    figures["cpu_s"] = round(process_cpu() - cpu, 2)
                    sampler.trace(None)
                figures["peak_rss_mb"] = sampler.peak_mb()
                load_after_pipeline = [round(x, 2) for x in os.getloadavg()]
                busy = {k: round(v, 2) for k, v in sorted(probes.seconds.items())}
                thread_cpu = {k: round(v, 2) for k, v in sorted(probes.cpu.items())}
                calls = dict(sorted(probes.calls.items()))
                _say(f"pipeline: {summary.documents_new} documents in {wall:.1f} s "
                     f"({summary.documents_new / wall:.1f}/s), status {summary.status}")

                probes.reset()
                with EncoderRecorder(encoder, probes, workdir / "noop_calls.jsonl") as noop_recorder:
                    started, cpu = time.perf_counter(), process_cpu()
                    noop = run_monitor(sources, db, batch_size=batch_size)
                    noop_wall = time.perf_counter() - started
                    figures["noop_cpu_s"] = round(process_cpu() - cpu, 2)
                noop_busy = {k: round(v, 3) for k, v in sorted(probes.seconds.items())}
            finally:
                remove_probes()
        _say(f"no-op run: {noop_wall:.2f} s, {noop.documents_new} new, "
             f"{probes.calls.get('encoder.encode', 0)} encoder calls")

        # The encoder's ceiling: its faster way through the same calls, one at a time (all cores to each call)
        # or two in flight as the flow runs them.
        # `--replay-in-flight 0` skips the replay (the memory run at 100,000 documents: the replay would double
        # its hours and the ratio is taken at the smaller sizes); the ratio is then null.
        replays = {f"{n}_in_flight": replay(encoder, calls_file, n) for n in args.replay_in_flight if n}
        documents = summary.documents_new
        docs_per_s = documents / wall
        encoder_s = replay_texts = 0.0
        best = None
        if replays:
            best = min(replays, key=lambda name: replays[name].seconds)
            encoder_s, replay_texts = replays[best].seconds, replays[best].texts
        encoder_docs_per_s = documents / encoder_s if encoder_s else None
        for name, result in replays.items():
            _say(f"encoder replay, {name.replace('_', ' ')}: {result.texts} sentences in {result.calls} calls, "
                 f"{result.seconds:.1f} s ({documents / result.seconds:.1f} documents/s, "
                 f"{result.texts / result.seconds:.0f} sentences/s)")
        from pmon.warehouse import Warehouse

        with Warehouse.open(db, read_only=True) as wh:
            stored = wh.count("documents")
            detections = wh.count("detections")
            langs = dict(wh.con.execute("SELECT lang || '-' || script, count(*) FROM documents GROUP BY 1 ORDER BY 1")
                         .fetchall())
        figures.update({
            "docs": documents,
            "docs_stored": stored,
            "detections": detections,
            "docs_per_s": round(docs_per_s, 2),
            "encoder_docs_per_s": round(encoder_docs_per_s, 2) if encoder_docs_per_s else None,
            "ratio": round(docs_per_s / encoder_docs_per_s, 3) if encoder_docs_per_s else None,
            "wall_s": round(wall, 2),
            "encoder_replay_s": round(encoder_s, 2) if replays else None,
            "encoder_replay": {name: {"seconds": round(r.seconds, 2), "cpu_s": round(r.cpu_seconds, 2),
                                      "docs_per_s": round(documents / r.seconds, 2)} for name, r in replays.items()},
            "encoder_ceiling": best,
            "sentences_embedded": recorder.texts,
            "encoder_sentences_per_s": round(replay_texts / encoder_s, 1) if encoder_s else None,
            "sentences_per_doc": round(recorder.texts / max(documents, 1), 2),
            "stage_seconds": {k: round(v, 2) for k, v in summary.stage_seconds.items()},
            "busy_seconds": busy,
            "thread_cpu_seconds": thread_cpu,
            "calls": calls,
            "status": summary.status,
            "errors": summary.errors[:5],
            "quarantined": summary.quarantined,
            "noop_s": round(noop_wall, 2),
            # The flow's own work in the no-op run; the rest of noop_s is Prefect's per-run overhead.
            "noop_work_s": round(sum(noop.stage_seconds.values()), 2),
            "noop_stage_seconds": {k: round(v, 3) for k, v in noop.stage_seconds.items()},
            "noop_busy_seconds": noop_busy,
            "noop_encoder_calls": probes.calls.get("encoder.encode", 0),
            "noop_encoder_texts": noop_recorder.texts,
            "noop_documents_new": noop.documents_new,
            "noop_not_modified_sources": sum(1 for s in noop.sources if s.not_modified),
            "corpus": {
                "sources": corpus.sources, "by_kind": corpus.by_kind, "by_variety": corpus.by_variety,
                "article_share": args.article_share, "body_mb": round(corpus.body_bytes / 2**20, 2),
                "served_mb": round(corpus.served_bytes / 2**20, 2),
                "mean_body_chars": None, "stored_by_lang_script": langs,
            },
            "batch_size": batch_size,
            "encoder": encoder.name,
            # [seconds into the flow, RSS MB, sentences sent to the encoder so far], every 10 s.
            "rss_trace": sampler.points,
            "peak_rss_mb_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "machine": {**machine(), "load_before": [round(x, 2) for x in load_before],
                        "load_after_pipeline": load_after_pipeline,
                        "load_after": [round(x, 2) for x in os.getloadavg()]},
            "workdir": str(workdir) if args.keep else None,
        })
        with Warehouse.open(db, read_only=True) as wh:
            figures["corpus"]["mean_body_chars"] = round(
                float(wh.con.execute("SELECT avg(length(text)) FROM documents").fetchall()[0][0] or 0), 1)
    finally:
        sampler.stop()
    return figures


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> None:
    """Parse the options, run, print the readable summary and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="documents in the corpus (default 1000)")
    parser.add_argument("--article-share", type=float, default=0.3,
                        help="share of 2-5 kB articles; the rest are short posts (default 0.3)")
    parser.add_argument("--batch-size", type=int, help="the flow's batch size (default: the flow's, 128)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--distinct-sentences", type=int, default=0,
                        help="0 (default): every sentence unique, the encoder's worst case; N: each variety's "
                             "sentences repeat after its first N, so the embedding cache serves them (a long run "
                             "of everything but the encoder, e.g. the memory of 100,000 documents in under an hour)")
    parser.add_argument("--torch-threads", type=int,
                        help="torch intra-op threads for the whole run (default: torch's, one per core)")
    parser.add_argument("--replay-in-flight", default="1,2",
                        help="encoder replays to run, by calls in flight; the faster is the ceiling (default 1,2; "
                             "0: no replay, no ratio)")
    parser.add_argument("--workdir", help="scratch folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (media, warehouse, recording)")
    args = parser.parse_args()
    if args.docs < 1 or not 0.0 <= args.article_share <= 1.0 or args.distinct_sentences < 0:
        parser.error("--docs must be >= 1, --article-share within [0, 1] and --distinct-sentences >= 0")
    try:
        args.replay_in_flight = sorted({int(n) for n in args.replay_in_flight.split(",") if n.strip()})
    except ValueError:
        parser.error("--replay-in-flight: comma-separated integers, e.g. 1,2")
    if not args.replay_in_flight or min(args.replay_in_flight) < 0 or (
            0 in args.replay_in_flight and len(args.replay_in_flight) > 1):
        parser.error("--replay-in-flight: integers >= 1, or 0 alone for no replay")
    scratch = args.workdir is None
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="pmon-bench-pipeline-")
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    # Before anything imports Prefect: its home and run database in the scratch folder (a fresh, hermetic
    # ephemeral server), whatever PREFECT_HOME says.
    os.environ["PREFECT_HOME"] = str(Path(args.workdir).resolve() / ".prefect")
    os.environ.setdefault("PMON_DATA_DIR", str(Path(args.workdir).resolve()))
    try:
        figures = run(args)
    finally:
        if scratch and not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    busy_before = figures["machine"]["load_before"][0]
    if busy_before > 0.5 * (os.cpu_count() or 1):
        _say(f"\nWARNING: load average {busy_before} before the run on {os.cpu_count()} cores: other work shares the "
             "CPU, so wall-clock figures and the ratio (two phases at different moments) are not trustworthy; "
             "take figures to publish on a quiet machine.")
    _say(
        f"\n{figures['docs']} documents: {figures['docs_per_s']} docs/s end to end, encoder alone "
        f"{figures['encoder_docs_per_s']} docs/s on the same sentences -> ratio {figures['ratio']}; "
        f"peak RSS {figures['peak_rss_mb']} MB; no-op run {figures['noop_s']} s"
    )
    print(json.dumps(figures, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
