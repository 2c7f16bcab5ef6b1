"""Alert rules over the warehouse: spike, spread, emerging and silence.

Every rule compares a *recent* window (the last `recent_days` days, today included) with a *baseline* window
(the `baseline_days` days before it), reading the daily aggregates that `pmon.warehouse.refresh_trends` keeps
(`narrative_daily`, `doc_daily`), so evaluation costs milliseconds however many documents there are; only the
emerging rule reads documents and embeds them. docs/alerts.md explains the rules with examples.

* **spike** — a narrative × language (or × source) cell whose recent count `k` is well above what its own
  baseline count `b` predicts. The test is the exact conditional test for comparing two Poisson rates
  (Przyborowski and Wilenski's C-test): given the `n = k + b` documents of the cell in both windows, under "no
  change" each falls in the recent window with probability `p0 = E_r / (E_r + E_b)`, `E` being each window's
  exposure: its length in days (`spike_exposure="days"`, a plain rate test), or the number of all documents of
  that language or source in it (`"documents"`: the narrative's *share*, so that collecting more of a language
  raises nothing). The one-sided p-value is the binomial tail `P(X >= k)`, `X ~ Binomial(n, p0)`. An alert needs
  minimum support `k >= spike_min_count` (1 → 3 posts never alerts), a baseline to rise from (`b >= 1`; a first
  appearance is spread's business), a rise of at least `spike_min_ratio` × the expected count `b * E_r / E_b`,
  and a Bonferroni-adjusted p-value `p * m <= spike_alpha`, `m` being the number of cells with minimum support.
  The baseline ends `spike_guard_days` before the recent window, so a rise that began a few days before the
  window is measured against the level before it rather than partly against itself.
* **spread** — a narrative with at least `spread_min_count` recent documents in a language (or source) where it
  was not established in the baseline: at most `spread_max_baseline` stray documents there (a classifier makes
  scattered mistakes; 0 means strictly never), the recent rate then at least `spread_min_ratio` × the baseline
  rate, while that language (source) was being monitored: it had `spread_min_baseline_documents` documents of
  any kind in the baseline window.
* **emerging** — recent documents that carry no narrative, embedded with the multilingual encoder and grouped by
  average-linkage clustering on cosine distance; a group of at least `emerging_min_size` documents whose average
  pairwise cosine similarity is at least `emerging_similarity` is an alert, with its top terms (class-based
  TF-IDF against all recent documents) and the examples nearest its centre, for an analyst to name.
* **silence** — a source that has published nothing for `g >= silence_min_days` days although its rate before
  that was `λ` documents a day (over up to `baseline_days` days before its last document): under a Poisson model
  the chance of such a gap is `exp(-λ g)`; it alerts when that, Bonferroni-adjusted over the sources, is at most
  `silence_alpha`, and the source had at least `silence_min_documents` documents to estimate `λ` from.

Each alert's id is a hash of its kind, subject and window, and it is stored once (`INSERT … ON CONFLICT DO
NOTHING`). A subject already alerted on for an overlapping window (silence: for the same last document; emerging:
a group sharing half its documents with an earlier one) is not alerted again, so an ongoing spike alerts at most
once per `recent_days` and evaluating again changes nothing. When a narrative and one of its sub-narratives alert
for the same kind and language (source), only the more specific one is kept.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import numpy as np
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pmon.warehouse.transactions import transaction

if TYPE_CHECKING:
    from pmon.classifiers.encoders import Encoder

__all__ = [
    "Alert",
    "AlertKind",
    "AlertSettings",
    "Evidence",
    "Windows",
    "binomial_upper_tail",
    "evaluate_alerts",
    "list_alerts",
    "store_alerts",
]

_DIMENSION_COLUMNS = {"lang": "lang", "source": "source_id"}
_EXCERPT_CHARS = 320


class AlertKind(StrEnum):
    """What an alert is about."""

    spike = "spike"
    spread = "spread"
    emerging = "emerging"
    silence = "silence"
    release_spread = "release_spread"


#: Where spikes are counted and first appearances looked for.
Dimension = Literal["lang", "source"]


def _by_language() -> list[Dimension]:
    return ["lang"]


class AlertSettings(BaseSettings):
    """Windows and thresholds of the alert rules; each can be set from the environment as `PMON_ALERTS_<FIELD>`.

    Example:
        >>> AlertSettings(recent_days=14, spike_min_count=8).baseline_days
        56
        >>> # or: PMON_ALERTS_SPIKE_DIMENSIONS='["lang","source"]' pmon alerts --since 7d
    """

    model_config = SettingsConfigDict(env_prefix="PMON_ALERTS_", extra="ignore")

    recent_days: int = Field(
        default=7, ge=1, le=366, description="length of the recent window in days, today included"
    )
    baseline_days: int = Field(
        default=56, ge=7, le=3660, description="length of the baseline window just before the recent one"
    )
    spike_dimensions: list[Dimension] = Field(
        default_factory=_by_language,
        description="what a narrative's spike is counted per: 'lang', 'source' or both",
    )
    spike_exposure: Literal["days", "documents"] = Field(
        default="days",
        description="'days': test the narrative's rate per day; 'documents': test its share of all documents of "
        "its language (source), so that a language simply collected more does not spike",
    )
    spike_guard_days: int = Field(
        default=7, ge=0, le=365,
        description="days just before the recent window left out of the spike baseline, so that a rise which "
        "began shortly before the window is compared with the level before it, not with itself",
    )
    spike_min_count: int = Field(
        default=5, ge=1, description="minimum recent documents of a cell before it can spike (the minimum support)"
    )
    spike_min_ratio: float = Field(
        default=2.0, ge=1.0, description="minimum recent count over the count the baseline predicts"
    )
    spike_alpha: float = Field(
        default=0.01, gt=0, lt=1, description="family-wise significance level (Bonferroni over the tested cells)"
    )
    spread_dimensions: list[Dimension] = Field(
        default_factory=_by_language, description="where a narrative's first appearance counts: 'lang', 'source'"
    )
    spread_min_count: int = Field(
        default=3, ge=1, description="minimum recent documents of a narrative in the new language (source)"
    )
    spread_max_baseline: int = Field(
        default=3, ge=0,
        description="documents of the narrative in that language (source) the baseline may hold and still count "
        "as 'not seen there': a classifier makes stray mistakes, and a few scattered detections in eight weeks "
        "are not an established presence; the recent rate must then be at least spread_min_ratio × the "
        "baseline rate. 0: strictly never seen",
    )
    spread_min_ratio: float = Field(
        default=5.0, ge=1.0, description="with a non-empty baseline: minimum recent rate over baseline rate"
    )
    spread_min_baseline_documents: int = Field(
        default=20, ge=1,
        description="the language (source) must have had this many documents in the baseline window, so "
        "'not seen' means 'absent while monitored' rather than 'not monitored yet'",
    )
    silence_min_days: int = Field(default=3, ge=1, description="minimum days without a document before silence")
    silence_min_documents: int = Field(
        default=10, ge=1, description="minimum documents before the gap to estimate the source's usual rate from"
    )
    silence_alpha: float = Field(
        default=0.01, gt=0, lt=1, description="significance level of the gap (Bonferroni over the sources)"
    )
    emerging_enabled: bool = Field(default=True, description="run the emerging-cluster rule (loads the encoder)")
    emerging_days: int = Field(default=7, ge=1, le=90, description="how far back unlabelled documents are clustered")
    emerging_similarity: float = Field(
        default=0.9, gt=0, lt=1,
        description="minimum average cosine similarity inside a group (e5 embeddings of unrelated texts sit "
        "around 0.75-0.85, near-duplicates above 0.9)",
    )
    emerging_min_size: int = Field(default=5, ge=2, description="minimum documents in an emerging group")
    emerging_max_documents: int = Field(
        default=3000, ge=10, description="the most recent unlabelled documents clustered (the cost is quadratic)"
    )
    evidence_per_alert: int = Field(default=5, ge=1, le=50, description="evidence documents stored with an alert")
    release_min_langs: int = Field(
        default=3, ge=2, description="release spread: languages one message (linked translations) must reach"
    )
    release_within_hours: float = Field(
        default=72.0, gt=0, description="release spread: ... within this many hours of its first document"
    )


class Evidence(BaseModel):
    """One document an alert rests on (raw text: escape and defang when rendering)."""

    document_id: str
    source_id: str | None = None
    url: str | None = None
    title: str | None = None
    excerpt: str = ""
    lang: str | None = None
    published_at: datetime | None = None
    score: float | None = Field(default=None, description="detection score, or similarity to the group's centre")


class Alert(BaseModel):
    """An alert as stored in the `alerts` table."""

    id: str
    kind: AlertKind
    narrative: str | None = None
    lang: str | None = None
    source_id: str | None = None
    window_start: datetime = Field(description="first instant of the window (midnight UTC)")
    window_end: datetime = Field(description="end of the window, exclusive (midnight after its last day)")
    observed: float | None = None
    expected: float | None = None
    score: float | None = Field(default=None, description="spike/silence: -log10(p); spread: count; emerging: cohesion")
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)
    evidence: list[Evidence] = Field(default_factory=list)
    created_at: datetime

    def as_row(self) -> dict[str, Any]:
        """A plain dict for JSON output: `kind`, `narrative`, `lang`, `evidence` and the rest."""
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class Windows:
    """The recent window and the baseline just before it, as days (both ends included)."""

    today: date
    recent_start: date
    baseline_start: date

    @classmethod
    def ending(cls, today: date, recent_days: int, baseline_days: int) -> Windows:
        """Windows whose recent part ends with `today`."""
        recent_start = today - timedelta(days=recent_days - 1)
        return cls(today, recent_start, recent_start - timedelta(days=baseline_days))

    @property
    def baseline_end(self) -> date:
        """Last day of the baseline."""
        return self.recent_start - timedelta(days=1)

    @property
    def recent_bounds(self) -> tuple[datetime, datetime]:
        """(midnight starting the recent window, midnight after today)."""
        return _midnight(self.recent_start), _midnight(self.today + timedelta(days=1))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _utcnow() -> datetime:
    from pmon.warehouse.store import utcnow

    return utcnow()


# -- statistics --------------------------------------------------------------------------------------------------
def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exactly: `scipy.stats.binom.sf(k - 1, n, p)` (the regularised incomplete
    beta function; microseconds for any n, where summing the n - k + 1 terms took seconds at 10M detections).

    Example:
        >>> round(binomial_upper_tail(3, 4, 0.5), 4)
        0.3125
    """
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    from scipy.stats import binom

    return min(1.0, float(binom.sf(k - 1, n, p)))


def _surprise(p_value: float) -> float:
    """-log10(p), capped so that p = 0 (underflow) still sorts first without being infinite."""
    return round(min(300.0, -math.log10(max(p_value, 1e-300))), 2)


# -- evaluation --------------------------------------------------------------------------------------------------
def evaluate_alerts(
    con: duckdb.DuckDBPyConnection,
    settings: AlertSettings | None = None,
    now: datetime | None = None,
    encoder: Encoder | None = None,
) -> list[Alert]:
    """Run every rule on the warehouse and store the alerts not stored before.

    Reads the trend aggregates, so call it after `pmon.warehouse.refresh_trends`. Idempotent: evaluating again (the
    same day or later within the same windows) stores nothing new.

    Args:
        con: a read-write connection to a migrated warehouse.
        settings: windows and thresholds (default: `AlertSettings()`, i.e. from `PMON_ALERTS_*`).
        now: naive UTC "now"; the recent window ends with its day (default: the current time).
        encoder: the encoder for emerging groups (default: `pmon.classifiers.encoders.load_encoder()`, loaded only
            when there are enough unlabelled recent documents to form a group).

    Returns:
        The alerts this call stored (empty when everything was already alerted on), spikes first.
    """
    settings = settings or AlertSettings()
    now = now or _utcnow()
    windows = Windows.ending(now.date(), settings.recent_days, settings.baseline_days)
    candidates: list[Alert] = []
    candidates += _spike_alerts(con, settings, windows, now)
    candidates += _spread_alerts(con, settings, windows, now)
    candidates += _silence_alerts(con, settings, windows, now)
    candidates = _keep_most_specific(candidates)
    candidates += _release_spread_alerts(con, settings, windows, now)
    if settings.emerging_enabled:
        candidates += _emerging_alerts(con, settings, windows, now, encoder)
    fresh = [alert for alert in candidates if not _already_alerted(con, alert)]
    return store_alerts(con, fresh)


def store_alerts(con: duckdb.DuckDBPyConnection, alerts: Sequence[Alert]) -> list[Alert]:
    """Insert alerts whose id is not stored yet, in one transaction; returns those actually inserted."""
    if not alerts:
        return []
    with transaction(con):
        known = {
            row[0]
            for row in con.execute(
                "SELECT id FROM alerts WHERE id IN (SELECT unnest(?))", [[a.id for a in alerts]]
            ).fetchall()
        }
        inserted = []
        for alert in alerts:
            if alert.id in known:
                continue
            known.add(alert.id)
            con.execute(
                """INSERT INTO alerts (id, kind, narrative, lang, source_id, window_start, window_end, observed,
                       expected, score, summary, details, evidence, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING""",
                [alert.id, alert.kind.value, alert.narrative, alert.lang, alert.source_id, alert.window_start,
                 alert.window_end, alert.observed, alert.expected, alert.score, alert.summary,
                 json.dumps(alert.details, ensure_ascii=False, default=str),
                 json.dumps([e.model_dump(mode="json") for e in alert.evidence], ensure_ascii=False),
                 alert.created_at],
            )
            inserted.append(alert)
    return inserted


def list_alerts(
    con: duckdb.DuckDBPyConnection,
    since: date | None = None,
    kinds: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    include_dismissed: bool = True,
) -> list[Alert]:
    """Stored alerts whose window reaches `since` or later (all when None), newest windows first.

    Args:
        con: a connection (read-only is fine).
        since: first day of interest; an alert counts when its window ends after that day starts.
        kinds: only these kinds.
        ids: only these alert ids.
        include_dismissed: False leaves out alerts an analyst dismissed in `pmon ui` (digests: never sent again).
    """
    from pmon.warehouse.browse import has_table

    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    if not include_dismissed and has_table(con, "alert_actions"):
        clauses.append("id NOT IN (SELECT alert_id FROM alert_actions WHERE action = 'dismissed')")
    if since is not None:
        clauses.append("window_end > ?")
        params.append(_midnight(since))
    if kinds:
        clauses.append("kind IN (SELECT unnest(?))")
        params.append(list(kinds))
    if ids is not None:
        clauses.append("id IN (SELECT unnest(?))")
        params.append(list(ids))
    cur = con.execute(
        f"""SELECT id, kind, narrative, lang, source_id, window_start, window_end, observed, expected, score,
                   summary, details, evidence, created_at
            FROM alerts WHERE {' AND '.join(clauses)}
            ORDER BY window_end DESC,
                     CASE kind WHEN 'spike' THEN 0 WHEN 'spread' THEN 1 WHEN 'emerging' THEN 2 ELSE 3 END,
                     score DESC NULLS LAST, id""",  # noqa: S608 - clauses are fixed strings
        params,
    )
    names = [d[0] for d in cur.description]
    alerts = []
    for row in cur.fetchall():
        record = dict(zip(names, row, strict=True))
        record["details"] = json.loads(record["details"]) if record["details"] else {}
        record["evidence"] = json.loads(record["evidence"]) if record["evidence"] else []
        alerts.append(Alert.model_validate(record))
    return alerts


def _alert_id(kind: AlertKind, *subject: object) -> str:
    key = "\x1f".join([kind.value, *("" if part is None else str(part) for part in subject)])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _already_alerted(con: duckdb.DuckDBPyConnection, alert: Alert) -> bool:
    """The same subject was alerted on for an overlapping window (or, emerging: mostly the same documents)."""
    if con.execute("SELECT 1 FROM alerts WHERE id = ?", [alert.id]).fetchall():
        return True
    if alert.kind is AlertKind.emerging:
        members = set(alert.details.get("members", []))
        rows = con.execute(
            "SELECT details FROM alerts WHERE kind = 'emerging' AND window_end > ?",
            [alert.window_start - timedelta(days=alert.details.get("days", 7))],
        ).fetchall()
        for (details,) in rows:
            earlier = set(json.loads(details or "{}").get("members", []))
            if members and len(members & earlier) * 2 >= len(members):
                return True
        return False
    if alert.kind is AlertKind.silence:
        # One alert per silent spell: the spell is identified by the day of the source's last document.
        return bool(
            con.execute(
                "SELECT 1 FROM alerts WHERE kind = 'silence' AND source_id = ? AND window_start = ?",
                [alert.source_id, alert.window_start],
            ).fetchall()
        )
    rows = con.execute(
        """SELECT 1 FROM alerts WHERE kind = ? AND narrative IS NOT DISTINCT FROM ?
               AND lang IS NOT DISTINCT FROM ? AND source_id IS NOT DISTINCT FROM ? AND window_end > ?""",
        [alert.kind.value, alert.narrative, alert.lang, alert.source_id, alert.window_start],
    ).fetchall()
    return bool(rows)


def _keep_most_specific(alerts: list[Alert]) -> list[Alert]:
    """Drop 'a' when 'a.b' alerts for the same kind and language/source: the sub-narrative says more."""
    specific = {(a.kind, a.lang, a.source_id, a.narrative) for a in alerts if a.narrative and "." in a.narrative}
    parents = {(kind, lang, source, narrative.split(".", 1)[0]) for kind, lang, source, narrative in specific}
    return [a for a in alerts if (a.kind, a.lang, a.source_id, a.narrative) not in parents]


# -- narrative × language/source cells ---------------------------------------------------------------------------
def _cells(con: duckdb.DuckDBPyConnection, column: str, w: Windows, guard_days: int = 0) -> list[dict[str, Any]]:
    """Per narrative × key: recent and baseline counts, with the key's recent and baseline document totals.

    With `guard_days`, the baseline is the same length but ends that many days before the recent window.
    """
    sql = f"""
        WITH cells AS (
            SELECT narrative, {column} AS key,
                   coalesce(sum(documents) FILTER (WHERE day >= $recent), 0) AS recent,
                   coalesce(sum(documents) FILTER (WHERE day >= $base AND day <= $base_end), 0) AS baseline
            FROM narrative_daily WHERE day >= $base AND day <= $today GROUP BY ALL
        ), totals AS (
            SELECT {column} AS key,
                   coalesce(sum(documents) FILTER (WHERE day >= $recent), 0) AS recent_total,
                   coalesce(sum(documents) FILTER (WHERE day >= $base AND day <= $base_end), 0) AS baseline_total
            FROM doc_daily WHERE day >= $base AND day <= $today GROUP BY ALL
        )
        SELECT c.narrative, c.key, c.recent, c.baseline, t.recent_total, t.baseline_total
        FROM cells c JOIN totals t ON c.key = t.key
        ORDER BY c.narrative, c.key"""  # noqa: S608 - column comes from _DIMENSION_COLUMNS
    guard = timedelta(days=guard_days)
    cur = con.execute(sql, {"recent": w.recent_start, "base": w.baseline_start - guard,
                            "base_end": w.baseline_end - guard, "today": w.today})
    names = [d[0] for d in cur.description]
    counts = {"recent", "baseline", "recent_total", "baseline_total"}
    return [
        {k: (int(v) if k in counts else v) for k, v in zip(names, row, strict=True)}
        for row in cur.fetchall()
    ]


def expected_counts(
    con: duckdb.DuckDBPyConnection, s: AlertSettings, w: Windows, dimension: str = "lang"
) -> list[dict[str, Any]]:
    """Per narrative × language (or source): the recent count and the count its baseline predicts.

    The one computation behind spike alerts and the digest's rising narratives, so that both show the same
    expected count for the same cell and window: the baseline ends `spike_guard_days` before the recent window,
    and each window's exposure (`exposure_recent`, `exposure_base`) is its length in days or, with
    `spike_exposure="documents"`, its documents of that language or source.

    Returns:
        Dicts with narrative, key (the language or source), recent, baseline, recent_total, baseline_total,
        exposure_recent, exposure_base and expected (`baseline * exposure_recent / exposure_base`; None when a
        window has no exposure).
    """
    recent_days = (w.today - w.recent_start).days + 1
    baseline_days = (w.baseline_end - w.baseline_start).days + 1
    cells = _cells(con, _DIMENSION_COLUMNS[dimension], w, s.spike_guard_days)
    for cell in cells:
        if s.spike_exposure == "documents":
            cell["exposure_recent"], cell["exposure_base"] = cell["recent_total"], cell["baseline_total"]
        else:
            cell["exposure_recent"], cell["exposure_base"] = recent_days, baseline_days
        exposed = cell["exposure_recent"] > 0 and cell["exposure_base"] > 0
        cell["expected"] = cell["baseline"] * cell["exposure_recent"] / cell["exposure_base"] if exposed else None
    return cells


def _spike_alerts(con: duckdb.DuckDBPyConnection, s: AlertSettings, w: Windows, now: datetime) -> list[Alert]:
    tested: list[tuple[Dimension, dict[str, Any], float, float]] = []
    start, end = w.recent_bounds
    for dimension in s.spike_dimensions:
        for cell in expected_counts(con, s, w, dimension):
            k, b = cell["recent"], cell["baseline"]
            if k < s.spike_min_count or b == 0:
                continue  # b == 0: a first appearance, which is spread's business (and no rate to rise from)
            if cell["expected"] is None:
                continue  # nothing of this language/source before: a first appearance is spread's business
            exposure_recent, exposure_base = cell["exposure_recent"], cell["exposure_base"]
            p0 = exposure_recent / (exposure_recent + exposure_base)
            p_value = binomial_upper_tail(k, k + b, p0)
            tested.append((dimension, cell, p_value, cell["expected"]))
    alerts = []
    m = max(1, len(tested))
    for dimension, cell, p_value, expected in tested:
        k, b = cell["recent"], cell["baseline"]
        ratio = k / expected if expected > 0 else math.inf
        if ratio < s.spike_min_ratio or p_value * m > s.spike_alpha:
            continue
        lang = cell["key"] if dimension == "lang" else None
        source = cell["key"] if dimension == "source" else None
        where = f"in {lang}" if lang else f"from {source}"
        rise = f"×{ratio:.1f}" if math.isfinite(ratio) else "none expected"
        alerts.append(Alert(
            id=_alert_id(AlertKind.spike, cell["narrative"], lang, source, w.recent_start, w.today),
            kind=AlertKind.spike, narrative=cell["narrative"], lang=lang, source_id=source,
            window_start=start, window_end=end, observed=k, expected=round(expected, 2), score=_surprise(p_value * m),
            summary=(f"{cell['narrative']} {where}: {k} documents in the last {s.recent_days} days, "
                     f"{expected:.1f} expected from the baseline ({b} in {s.baseline_days} days"
                     + (f" ending {s.spike_guard_days} days earlier" if s.spike_guard_days else " before")
                     + f"; {rise}, adjusted p={min(1.0, p_value * m):.2g})"),
            details={"test": "conditional binomial (C-test), one-sided", "exposure": s.spike_exposure,
                     "p_value": p_value, "adjusted_p": min(1.0, p_value * m), "tests": m, "recent": k,
                     "baseline": cell["baseline"], "recent_total": cell["recent_total"],
                     "baseline_total": cell["baseline_total"], "ratio": None if math.isinf(ratio) else round(ratio, 2),
                     "recent_days": s.recent_days, "baseline_days": s.baseline_days,
                     "guard_days": s.spike_guard_days},
            evidence=_narrative_evidence(con, cell["narrative"], lang, source, w, s.evidence_per_alert),
            created_at=now,
        ))
    return alerts


def _spread_alerts(con: duckdb.DuckDBPyConnection, s: AlertSettings, w: Windows, now: datetime) -> list[Alert]:
    alerts = []
    start, end = w.recent_bounds
    for dimension in s.spread_dimensions:
        for cell in _cells(con, _DIMENSION_COLUMNS[dimension], w):
            k, b = cell["recent"], cell["baseline"]
            if b > s.spread_max_baseline or k < s.spread_min_count:
                continue
            if b and (k / s.recent_days) < s.spread_min_ratio * (b / s.baseline_days):
                continue
            if cell["baseline_total"] < s.spread_min_baseline_documents:
                continue  # the language/source was hardly monitored before: absence says nothing
            lang = cell["key"] if dimension == "lang" else None
            source = cell["key"] if dimension == "source" else None
            where = f"in {lang}" if lang else f"from {source}"
            elsewhere = _seen_elsewhere(con, cell["narrative"], _DIMENSION_COLUMNS[dimension], cell["key"], w)
            alerts.append(Alert(
                id=_alert_id(AlertKind.spread, cell["narrative"], lang, source, w.recent_start, w.today),
                kind=AlertKind.spread, narrative=cell["narrative"], lang=lang, source_id=source,
                window_start=start, window_end=end, observed=k,
                expected=round(b * s.recent_days / s.baseline_days, 2), score=float(k),
                summary=(f"{cell['narrative']} appeared {where}: {k} documents in the last {s.recent_days} days, "
                         f"{'only ' + str(b) if b else 'none'} in the {s.baseline_days} days before among "
                         f"{cell['baseline_total']} {lang or source} documents"
                         + (f"; before, seen in {', '.join(elsewhere)}" if elsewhere else "")),
                details={"recent": k, "baseline": b, "baseline_total": cell["baseline_total"],
                         "p_value": binomial_upper_tail(k, k + b, s.recent_days / (s.recent_days + s.baseline_days)),
                         "seen_before_in": elsewhere, "dimension": dimension,
                         "recent_days": s.recent_days, "baseline_days": s.baseline_days},
                evidence=_narrative_evidence(con, cell["narrative"], lang, source, w, s.evidence_per_alert),
                created_at=now,
            ))
    return alerts


def _release_spread_alerts(
    con: duckdb.DuckDBPyConnection, s: AlertSettings, w: Windows, now: datetime,
) -> list[Alert]:
    """One message (translations linked by `pmon.warehouse.links`) reaching many languages soon after it appeared;
    its evidence is the first member in each language, earliest first."""
    from pmon.warehouse.links import release_spreads

    start, end = w.recent_bounds
    alerts = []
    spreads = release_spreads(con, start, end, within_hours=s.release_within_hours, min_langs=s.release_min_langs)
    for message in spreads:
        langs = message["langs"]
        lags = ", ".join(f"{lang} +{lag:g} h" for lang, lag in langs.items())
        alerts.append(Alert(
            id=_alert_id(AlertKind.release_spread, message["group_id"]),
            kind=AlertKind.release_spread, narrative=message["narrative"], lang=message["first_lang"],
            source_id=message["first_source"], window_start=message["first_at"],
            window_end=message["first_at"] + timedelta(hours=s.release_within_hours),
            observed=float(len(langs)), score=float(len(langs)),
            summary=(f"one message reached {len(langs)} languages within {s.release_within_hours:g} hours, first "
                     f"in {message['first_lang']} from {message['first_source']}: {lags}"),
            details={"group_id": message["group_id"], "first_id": message["first_id"], "lag_hours": langs,
                     "within_hours": s.release_within_hours},
            evidence=[Evidence(document_id=m["id"], source_id=m["source_id"], url=m["url"], title=m["title"],
                               lang=m["lang"], published_at=m["published_at"],
                               excerpt=_excerpt(m["text"]))
                      for m in message["members"][: max(s.evidence_per_alert, len(langs))]],
            created_at=now,
        ))
    return alerts


def _seen_elsewhere(con: duckdb.DuckDBPyConnection, narrative: str, column: str, key: str, w: Windows) -> list[str]:
    rows = con.execute(
        f"""SELECT {column}, sum(documents) AS n FROM narrative_daily
            WHERE narrative = ? AND {column} <> ? AND day >= ? AND day < ?
            GROUP BY ALL ORDER BY n DESC, 1 LIMIT 5""",  # noqa: S608 - column comes from _DIMENSION_COLUMNS
        [narrative, key, w.baseline_start, w.recent_start],
    ).fetchall()
    return [str(row[0]) for row in rows]


def _narrative_evidence(
    con: duckdb.DuckDBPyConnection, narrative: str, lang: str | None, source: str | None, w: Windows, limit: int
) -> list[Evidence]:
    """The recent documents of the cell that carry the narrative (or a sub-narrative), best-scored first."""
    rows = con.execute(
        """SELECT d.id, d.source_id, d.url, d.title, d.text, coalesce(d.lang, 'und') AS lang, d.published_at,
                  max(det.score) AS score, arg_max(det.evidence, det.score) AS evidence
           FROM detections det JOIN documents d ON d.id = det.document_id
           WHERE (det.narrative = $n OR det.narrative LIKE $n || '.%')
             AND ($lang IS NULL OR coalesce(d.lang, 'und') = $lang)
             AND ($source IS NULL OR d.source_id = $source)
             AND CAST(d.published_at AS DATE) BETWEEN $start AND $today
           GROUP BY ALL ORDER BY score DESC, d.published_at DESC, d.id LIMIT $limit""",
        {"n": narrative, "lang": lang, "source": source, "start": w.recent_start, "today": w.today, "limit": limit},
    ).fetchall()
    return [
        Evidence(document_id=r[0], source_id=r[1], url=r[2], title=r[3], lang=r[5], published_at=r[6],
                 score=round(float(r[7]), 4), excerpt=_excerpt(" … ".join(r[8]) if r[8] else r[4]))
        for r in rows
    ]


def _excerpt(text: str, limit: int = _EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return (cut or text[:limit]) + " …"


# -- silence -----------------------------------------------------------------------------------------------------
def _silence_alerts(con: duckdb.DuckDBPyConnection, s: AlertSettings, w: Windows, now: datetime) -> list[Alert]:
    rows = con.execute(
        """WITH spans AS (
               SELECT source_id, max(day) AS last_day, min(day) AS first_day FROM doc_daily
               WHERE day <= $today GROUP BY source_id
           )
           SELECT s.source_id, s.last_day, s.first_day,
                  (SELECT coalesce(sum(d.documents), 0) FROM doc_daily d
                   WHERE d.source_id = s.source_id AND d.day > s.last_day - $base AND d.day <= s.last_day) AS n,
                  (SELECT max(last_fetched_at) FROM sources x WHERE x.id = s.source_id) AS last_fetched_at
           FROM spans s ORDER BY s.source_id""",
        {"today": w.today, "base": s.baseline_days},
    ).fetchall()
    m = max(1, len(rows))
    alerts = []
    for source_id, last_day, first_day, n, last_fetched in rows:
        gap = (w.today - last_day).days
        n = int(n)
        if gap < s.silence_min_days or n < s.silence_min_documents:
            continue
        active_days = min(s.baseline_days, (last_day - first_day).days + 1)
        rate = n / active_days
        p_value = math.exp(-rate * gap)
        if p_value * m > s.silence_alpha:
            continue
        fetched = f"; last fetched {last_fetched:%Y-%m-%d %H:%M} UTC" if last_fetched else ""
        alerts.append(Alert(
            id=_alert_id(AlertKind.silence, source_id, last_day),
            kind=AlertKind.silence, source_id=source_id,
            window_start=_midnight(last_day + timedelta(days=1)), window_end=_midnight(w.today + timedelta(days=1)),
            observed=0.0, expected=round(rate * gap, 2), score=_surprise(p_value * m),
            summary=(f"{source_id} went quiet: nothing for {gap} days since {last_day:%Y-%m-%d}, after "
                     f"{rate:.2f} documents a day ({rate * gap:.1f} expected in the gap){fetched}"),
            details={"test": "Poisson gap", "gap_days": gap, "rate_per_day": round(rate, 4), "documents": n,
                     "rate_days": active_days, "p_value": p_value, "adjusted_p": min(1.0, p_value * m), "tests": m,
                     "last_day": last_day.isoformat(),
                     "last_fetched_at": last_fetched.isoformat() if last_fetched else None},
            evidence=_latest_documents(con, source_id, s.evidence_per_alert),
            created_at=now,
        ))
    return alerts


def _latest_documents(con: duckdb.DuckDBPyConnection, source_id: str, limit: int) -> list[Evidence]:
    rows = con.execute(
        """SELECT id, source_id, url, title, text, lang, published_at FROM documents
           WHERE source_id = ? ORDER BY published_at DESC, id LIMIT ?""",
        [source_id, limit],
    ).fetchall()
    return [Evidence(document_id=r[0], source_id=r[1], url=r[2], title=r[3], excerpt=_excerpt(r[4]), lang=r[5],
                     published_at=r[6]) for r in rows]


# -- emerging groups ---------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"[@#]?[^\W\d_][\w'’-]{2,}")


def _emerging_alerts(
    con: duckdb.DuckDBPyConnection, s: AlertSettings, w: Windows, now: datetime, encoder: Encoder | None
) -> list[Alert]:
    start_day = w.today - timedelta(days=s.emerging_days - 1)
    cur = con.execute(
        """SELECT d.id, d.source_id, d.url, d.title, d.text, coalesce(d.lang, 'und'), d.published_at, d.content_hash
           FROM documents d
           WHERE CAST(d.published_at AS DATE) BETWEEN ? AND ?
             AND d.classified_with IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM detections det WHERE det.document_id = d.id)
           ORDER BY d.published_at DESC, d.id LIMIT ?""",
        [start_day, w.today, s.emerging_max_documents],
    )
    docs = cur.fetchall()
    if len(docs) < s.emerging_min_size:
        return []
    if encoder is None:
        from pmon.classifiers.encoders import load_encoder

        encoder = load_encoder()
    texts = [_full_text(title, text) for _, _, _, title, text, *_ in docs]
    vectors = _embed(con, encoder, texts, [row[7] for row in docs])
    groups = _cluster(vectors, s.emerging_similarity, s.emerging_min_size)
    if not groups:
        return []
    document_frequency = _recent_document_frequency(con, start_day, w.today)
    alerts = []
    window_start, window_end = _midnight(start_day), _midnight(w.today + timedelta(days=1))
    for members in groups:
        centre = vectors[members].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        closeness = vectors[members] @ centre
        order = [members[i] for i in np.argsort(-closeness, kind="stable")]
        sims = vectors[members] @ vectors[members].T
        cohesion = float((sims.sum() - len(members)) / (len(members) * (len(members) - 1)))
        member_docs = [docs[i] for i in members]
        terms = _top_terms([texts[i] for i in members], document_frequency)
        langs = Counter(d[5] for d in member_docs)
        sources = Counter(d[1] for d in member_docs)
        first = min(member_docs, key=lambda d: (d[6], d[0]))
        lang = langs.most_common(1)[0][0]
        evidence = [
            Evidence(document_id=docs[i][0], source_id=docs[i][1], url=docs[i][2], title=docs[i][3],
                     excerpt=_excerpt(docs[i][4]), lang=docs[i][5], published_at=docs[i][6],
                     score=round(float(vectors[i] @ centre), 4))
            for i in order[: s.evidence_per_alert]
        ]
        alerts.append(Alert(
            id=_alert_id(AlertKind.emerging, first[0]),
            kind=AlertKind.emerging, narrative=None, lang=lang,
            source_id=sources.most_common(1)[0][0] if len(sources) == 1 else None,
            window_start=window_start, window_end=window_end, observed=len(members), expected=None,
            score=round(cohesion, 4),
            summary=(f"{len(members)} similar recent documents that fit no narrative "
                     f"({', '.join(f'{k} {v}' for k, v in langs.most_common())}; "
                     f"from {', '.join(sources)}); top terms: {', '.join(terms[:6])}"),
            details={"members": sorted(d[0] for d in member_docs), "top_terms": terms, "cohesion": round(cohesion, 4),
                     "langs": dict(langs), "sources": dict(sources), "days": s.emerging_days,
                     "similarity_threshold": s.emerging_similarity, "encoder": getattr(encoder, "name", None)},
            evidence=evidence,
            created_at=now,
        ))
    return alerts


def _full_text(title: str | None, text: str) -> str:
    # The same joining as schemas.documents.RawItem.full_text, so content hashes match the text embedded.
    if title and not text.startswith(title):
        return f"{title}\n\n{text}"
    return text


def _embed(con: duckdb.DuckDBPyConnection, encoder: Encoder, texts: list[str], hashes: list[str]) -> np.ndarray:
    """Embeddings through the warehouse's cache (keyed by content hash and encoder name): a document is
    embedded once however often the rule runs."""
    name = str(getattr(encoder, "name", type(encoder).__name__))
    cached: dict[str, np.ndarray] = {}
    rows = con.execute(
        "SELECT content_hash, vector FROM embeddings WHERE model = ? AND content_hash IN (SELECT unnest(?))",
        [name, sorted(set(hashes))],
    ).fetchall()
    for key, vector in rows:
        cached[key] = np.asarray(vector, dtype=np.float32)
    missing = [i for i, h in enumerate(hashes) if h not in cached]
    if missing:
        fresh = np.asarray(encoder.encode([texts[i] for i in missing]), dtype=np.float32)
        new_rows: dict[str, np.ndarray] = {}
        for i, vector in zip(missing, fresh, strict=True):
            cached[hashes[i]] = vector
            new_rows[hashes[i]] = vector
        # One Arrow insert (row-by-row executemany of 384 floats a row took seconds for a few hundred documents).
        import pyarrow as pa

        matrix = np.ascontiguousarray(np.stack(list(new_rows.values())), dtype=np.float32)
        table = pa.table({
            "content_hash": list(new_rows),
            "model": [name] * len(new_rows),
            "vector": pa.ListArray.from_arrays(
                pa.array(np.arange(0, matrix.size + 1, matrix.shape[1], dtype=np.int32)), pa.array(matrix.ravel())
            ),
        })
        con.register("_emerging_vectors", table)
        try:
            con.execute("INSERT INTO embeddings SELECT * FROM _emerging_vectors ON CONFLICT DO NOTHING")
        finally:
            con.unregister("_emerging_vectors")
    matrix = np.stack([cached[h] for h in hashes]).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def _cluster(vectors: np.ndarray, similarity: float, min_size: int) -> list[list[int]]:
    """Average-linkage groups whose mean pairwise cosine similarity is at least `similarity`."""
    from sklearn.cluster import AgglomerativeClustering

    if len(vectors) < 2:
        return []
    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=1.0 - similarity
    ).fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    return sorted((g for g in groups.values() if len(g) >= min_size), key=lambda g: (-len(g), g[0]))


def _recent_document_frequency(con: duckdb.DuckDBPyConnection, start: date, today: date) -> tuple[int, Counter[str]]:
    rows = con.execute(
        "SELECT title, text FROM documents WHERE CAST(published_at AS DATE) BETWEEN ? AND ?", [start, today]
    ).fetchall()
    frequency: Counter[str] = Counter()
    for title, text in rows:
        frequency.update(set(_tokens(_full_text(title, text))))
    return len(rows), frequency


def _tokens(text: str) -> list[str]:
    return [t.casefold().strip("'’-") for t in _TOKEN.findall(text) if "://" not in t]


def _top_terms(texts: list[str], corpus: tuple[int, Counter[str]], limit: int = 10) -> list[str]:
    """Class-based TF-IDF: terms frequent in the group and rare in all recent documents."""
    total, frequency = corpus
    in_group: Counter[str] = Counter()
    for text in texts:
        in_group.update(set(_tokens(text)))
    scored = []
    for term, count in in_group.items():
        if count < 2 or len(term) < 3:
            continue
        idf = math.log(1 + max(total, 1) / max(frequency.get(term, 0), count))
        scored.append((count / len(texts) * idf, term))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [term for _, term in scored[:limit]]
