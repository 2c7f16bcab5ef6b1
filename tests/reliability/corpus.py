"""A small multilingual corpus for reliability tests: a feed on a local server, a JSONL drop, a CSV drop and a
Telegram export, with a few bad items, about 180 documents in all (two analysis batches of the monitor flow).

The texts are the project's synthetic gold sentences (eval/narratives), so nothing new of the kind is written
here; the selection is deterministic, and so are the dates (relative to a day the caller fixes).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[2]
GOLD = REPO / "eval" / "narratives"


def gold_texts(variety: str, count: int, offset: int = 0) -> list[str]:
    """`count` gold sentences of one variety ('tg-cyrl'), every other line from `offset`, in file order."""
    lines = (GOLD / f"{variety}.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    picked = texts[offset::2][:count]
    if len(picked) < count:
        raise ValueError(f"{variety}: only {len(picked)} gold sentences from offset {offset}")
    return picked


@dataclass(frozen=True)
class Corpus:
    """Files of the corpus: `sources` is the sources YAML; `media` is what the local server must serve."""

    root: Path
    sources: Path
    media: Path
    documents: int  # good items in all sources (what a clean run stores)


def _day(today: date, n: int) -> datetime:
    return datetime(today.year, today.month, today.day, 9, tzinfo=UTC) - timedelta(days=n % 50, hours=n % 7)


def write_corpus(root: Path, base_url: str, today: date, scale: int = 1) -> Corpus:
    """Write the corpus under `root` (media in `root/media`, to be served at `base_url`).

    Args:
        root: an empty folder.
        base_url: where `root/media` is served (http://127.0.0.1:PORT).
        today: the day dates count back from (fix it once per test so every run reads the same files).
        scale: 1 for about 180 documents; 2 doubles the drops (for timing-based kills that need a longer run).
    """
    media = root / "media"
    media.mkdir(parents=True, exist_ok=True)
    n = 0

    feed_texts = gold_texts("en-latn", 20) + gold_texts("uz-latn", 15) + gold_texts("tg-cyrl", 15)
    items = []
    for i, text in enumerate(feed_texts):
        n += 1
        items.append(
            f"<item><guid>feed-{i}</guid><link>http://news.invalid/{i}</link><title>Item {i}</title>"
            f"<pubDate>{format_datetime(_day(today, n))}</pubDate><description>{escape(text)}</description></item>"
        )
    items.append("<item><guid>feed-empty</guid><description></description></item>")  # no text: quarantined
    (media / "feed.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Synthetic news</title>'
        + "".join(items) + "</channel></rss>", encoding="utf-8",
    )

    drop_texts = (
        gold_texts("fa-arab", 25 * scale) + gold_texts("ps-arab", 25 * scale) + gold_texts("ug-arab", 20 * scale)
    )
    lines = []
    for i, text in enumerate(drop_texts):
        n += 1
        record = {"id": f"j{i}", "text": text, "published_at": _day(today, n).isoformat()}
        lines.append(json.dumps(record, ensure_ascii=False))
    lines.insert(7, '{"id": "broken", "text": "an unterminated line')  # invalid JSON: quarantined
    (root / "drop.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    with (root / "drop.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "text", "published_at"])
        for i, text in enumerate(gold_texts("uz-cyrl", 20)):
            n += 1
            writer.writerow([f"c{i}", "", text, _day(today, n).isoformat()])

    messages = []
    for i, text in enumerate(gold_texts("ug-latn", 15) + gold_texts("en-latn", 10, offset=1)):
        n += 1
        messages.append({"id": i + 1, "type": "message", "date_unixtime": str(int(_day(today, n).timestamp())),
                         "from": "Synthetic channel", "text": text})
    messages.append({"type": "message", "text": "a message without an id"})  # quarantined
    (root / "telegram").mkdir(exist_ok=True)
    (root / "telegram" / "result.json").write_text(
        json.dumps({"name": "Synthetic channel", "messages": messages}, ensure_ascii=False), encoding="utf-8"
    )

    sources = root / "sources.yaml"
    sources.write_text(
        f"""sources:
  - {{id: feed, kind: feed, location: "{base_url}/feed.xml", allow_private_network: true}}
  - {{id: drop-jsonl, kind: jsonl, location: drop.jsonl}}
  - {{id: drop-csv, kind: csv, location: drop.csv}}
  - {{id: channel, kind: telegram, location: telegram}}
""",
        encoding="utf-8",
    )
    return Corpus(root, sources, media, documents=len(feed_texts) + len(drop_texts) + 20 + len(messages) - 1)


# -- running `pmon run` as a separate process ---------------------------------------------------------------------
def pmon_command() -> list[str]:
    """The `pmon` console script of this environment (or the module, when the script is not installed)."""
    script = Path(sys.executable).with_name("pmon")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pmon.cli.main"]


def start_run(sources: Path, db: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """Start `pmon run --format json` in its own process group (so a kill takes its helpers with it)."""
    return subprocess.Popen(
        [*pmon_command(), "run", "--config", str(sources), "--db", str(db), "--format", "json", *extra],
        env=env, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 900) -> tuple[int, str, str]:
    """Wait for a run; (return code, stdout, stderr). A negative code is the signal that ended it.

    Raises:
        TimeoutError: the run did not end within `timeout` seconds (it is killed, with its process group, so that
            a kill by this helper is never mistaken for one by the crash hook).
    """
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        _, err = process.communicate()
        raise TimeoutError(f"pmon run still running after {timeout}s; stderr: {err[-1500:]}") from None
    return process.returncode, out, err


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the run and the helpers it started (its process group), by the id of the process we started."""
    import contextlib
    import os
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_for(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    """Poll a zero-argument callable until it is true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return False


# -- what a run leaves in the warehouse ---------------------------------------------------------------------------
#: Scores may move this much between runs: bf16 embeddings differ in their last bits with the batch a text is in
#: (batches are composed differently after a crash) and with the number of threads (one per Dask worker). Labels,
#: stances and evidence must not move at all.
SCORE_TOLERANCE = 0.01


def snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Documents, detections and detection scores of a warehouse, without what differs between runs (run ids,
    fetch times). Sorted lists, not sets: a duplicate would show."""
    from pmon.warehouse import Warehouse

    with Warehouse.open(db, read_only=True, wait_seconds=30) as wh:
        documents = wh.con.execute(
            """SELECT id, source_id, external_id, url, title, text, author, forwarded_from, published_at,
                      content_hash, lang, script, round(lang_confidence, 3), stance, classified_with
               FROM documents ORDER BY ALL"""
        ).fetchall()
        detections = wh.con.execute(
            """SELECT document_id, narrative, stance, evidence, model_version, codebook_version
               FROM detections ORDER BY ALL"""
        ).fetchall()
        scores = wh.con.execute("SELECT document_id, narrative, score FROM detections ORDER BY ALL").fetchall()
    return {"documents": documents, "detections": detections, "scores": scores}


def assert_same_contents(
    got: dict[str, list[tuple[object, ...]]], expected: dict[str, list[tuple[object, ...]]]
) -> None:
    """Equal documents and detections (scores within SCORE_TOLERANCE), with an account of any difference."""
    for table in ("documents", "detections"):
        if got[table] == expected[table]:
            continue
        missing = [row for row in expected[table] if row not in got[table]]
        extra = [row for row in got[table] if row not in expected[table]]
        raise AssertionError(
            f"{table}: {len(got[table])} rows, expected {len(expected[table])}; "
            f"missing {len(missing)} (first: {str(missing[:1])[:300]}), "
            f"extra {len(extra)} (first: {str(extra[:1])[:300]})"
        )
    expected_scores = {(doc, narrative): score for doc, narrative, score in expected["scores"]}
    moved = []
    for doc, narrative, score in got["scores"]:
        if abs(score - expected_scores[(doc, narrative)]) > SCORE_TOLERANCE:
            moved.append((doc, narrative, expected_scores[(doc, narrative)], score))
    assert not moved, f"{len(moved)} scores moved more than {SCORE_TOLERANCE}: {moved[:3]}"
