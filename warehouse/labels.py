"""Analyst review: low-confidence detections to look at, verdicts stored, and training examples made from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from pmon.warehouse.store import utcnow

VERDICTS = ("confirm", "reject")


def low_confidence(
    con: duckdb.DuckDBPyConnection, threshold: float, limit: int = 20, margin: float = 0.25,
) -> list[dict[str, Any]]:
    """Detections whose score is within `margin` above the classifier's `threshold` (the ones it was least sure
    of) and that no analyst has judged yet, closest first."""
    cur = con.execute(
        """SELECT det.document_id, det.narrative, round(det.score, 3) AS score, det.stance, d.lang,
                  array_to_string(det.evidence, ' | ') AS evidence
           FROM detections det JOIN documents d ON d.id = det.document_id
           LEFT JOIN analyst_labels l ON l.document_id = det.document_id AND l.narrative = det.narrative
           WHERE l.document_id IS NULL AND det.score - ? <= ?
           ORDER BY det.score, det.document_id LIMIT ?""",
        [threshold, margin, limit],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def record_label(
    con: duckdb.DuckDBPyConnection, document_id: str, narrative: str, verdict: str,
    stance: str | None = None, analyst: str | None = None, labelled_at: datetime | None = None,
) -> None:
    """Store (or replace) an analyst's verdict on one document × narrative (`labelled_at`: default now; `pmon ui`
    passes when the analyst gave it, which can be earlier than when a busy warehouse let it be written).

    Raises:
        ValueError: unknown document or verdict.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
    if not con.execute("SELECT 1 FROM documents WHERE id = ?", [document_id]).fetchall():
        raise ValueError(f"no document {document_id!r} in this warehouse")
    con.execute(
        """INSERT INTO analyst_labels VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (document_id, narrative) DO UPDATE SET verdict = excluded.verdict, stance = excluded.stance,
               analyst = excluded.analyst, labelled_at = excluded.labelled_at""",
        [document_id, narrative, verdict, stance, analyst, labelled_at or utcnow()],
    )


#: An analyst's verdict counts as this many codebook examples of its class: one reviewed text among thousands must
#: move the model (a rejected sentence stops firing after `pmon train`; tests/classifiers/test_narrative_cli.py).
ANALYST_WEIGHT = 10.0


def analyst_training_set(con: duckdb.DuckDBPyConnection, leaf_ids: Sequence[str]) -> Any:
    """Training examples from verdicts: each evidence sentence (or the text) with the narratives confirmed on it.

    A rejected detection's evidence becomes a "none" example (a hard negative) unless the same sentence is evidence
    of a narrative confirmed on that document; confirmed ones are positives with the analyst's stance.
    """
    from pmon.classifiers.narratives import TrainingSet

    rows = con.execute(
        """SELECT l.document_id, l.narrative, l.verdict, l.stance, d.text, d.lang, det.evidence
           FROM analyst_labels l JOIN documents d ON d.id = l.document_id
           LEFT JOIN detections det ON det.document_id = l.document_id AND det.narrative = l.narrative
           ORDER BY l.document_id, l.narrative"""
    ).fetchall()
    by_text: dict[tuple[str, str], dict[str, Any]] = {}
    for document_id, narrative, verdict, stance, text, lang, evidence in rows:
        for sentence in evidence or [text[:1000]]:
            entry = by_text.setdefault(
                (document_id, sentence), {"labels": set(), "stance": "none", "lang": lang or "und"}
            )
            if verdict == "confirm" and narrative in leaf_ids:
                entry["labels"].add(narrative)
                entry["stance"] = stance or "promote"
    data = TrainingSet()
    for (_, sentence), entry in sorted(by_text.items()):
        labels = sorted(entry["labels"])
        data.add(sentence, labels, entry["stance"] if labels else "none", entry["lang"], ANALYST_WEIGHT)
    return data
