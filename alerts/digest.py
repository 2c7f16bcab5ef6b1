"""Digests: what changed in a window, the alerts with their evidence, and charts, as Markdown and one HTML page.

The HTML page is self-contained: its charts are PNG images made with Altair and rendered by vl-convert into
`data:` URIs, its style is inline, and a Content-Security-Policy forbids scripts and any remote resource, so the
page loads nothing from anywhere. Text from posts is never trusted: jinja2 escapes it (autoescape), links and
domains are defanged (`hxxps://example[.]com`) and never made clickable, and Markdown output escapes HTML and
Markdown syntax too.

Example:
    >>> digest = build_digest(con, since=parse_since("7d"))          # doctest: +SKIP
    >>> files = write_digest(digest, Path("digests"))                # doctest: +SKIP
    >>> files.html                                                   # doctest: +SKIP
    PosixPath('digests/digest-2026-11-25-7d.html')
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import jinja2

from pmon.alerts.rules import Alert, AlertKind, AlertSettings, Windows, _excerpt, expected_counts, list_alerts

__all__ = [
    "Chart",
    "Digest",
    "DigestFiles",
    "build_digest",
    "chart_file_name",
    "charts_from_html",
    "defang",
    "digest_stem",
    "escape_markdown",
    "render_html",
    "render_markdown",
    "write_digest",
]

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_KIND_ORDER = {AlertKind.spike: 0, AlertKind.spread: 1, AlertKind.release_spread: 2, AlertKind.emerging: 3,
               AlertKind.silence: 4}
_MAX_TREND_NARRATIVES = 6
_CHART_SCALE = 1.5


# -- defanging and escaping --------------------------------------------------------------------------------------
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+", re.IGNORECASE)
_BARE_DOMAIN = re.compile(
    r"(?<![\w@.\[])((?:www\.|t\.me/)[^\s<>\"'`]+|(?:[a-z0-9-]+\.)+(?:com|org|net|info|io|me|ru|tj|uz|af|ir|pk|cn|tk|"
    r"xyz|top|site|online|app|ly|gg|cc|tv|invalid|example)\b(?:/[^\s<>\"'`]*)?)",
    re.IGNORECASE,
)
_BIDI_OVERRIDES = dict.fromkeys(map(ord, "\u202a\u202b\u202d\u202e"), None)  # can disguise text; isolates are kept


def _defang_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    scheme = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}.get(scheme.lower(), scheme)
    return f"{scheme}://{host.replace('.', '[.]')}{slash}{path}"


def _defang_bare(match: re.Match[str]) -> str:
    text = match.group(1)
    host, slash, path = text.partition("/")
    return f"{host.replace('.', '[.]')}{slash}{path}"


def defang(text: str | None) -> str:
    """Make links unclickable and unfetchable: `https://a.example/x` → `hxxps://a[.]example/x`.

    Bare domains (`www.`, `t.me/`, common TLDs) get their dots bracketed too; bidi override characters, which can
    make a link or a name read as something else, are dropped.

    Example:
        >>> defang("see https://news.example/item?id=1 or t.me/channel")
        'see hxxps://news[.]example/item?id=1 or t[.]me/channel'
    """
    if not text:
        return ""
    text = text.translate(_BIDI_OVERRIDES)
    pieces, last = [], 0
    for match in _URL.finditer(text):
        pieces.append(_BARE_DOMAIN.sub(_defang_bare, text[last : match.start()]))
        pieces.append(_defang_url(match.group(0)))
        last = match.end()
    pieces.append(_BARE_DOMAIN.sub(_defang_bare, text[last:]))
    return "".join(pieces)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def escape_markdown(text: str | None) -> str:
    """Text safe inside Markdown: HTML characters as entities, Markdown syntax backslash-escaped, one line.

    Example:
        >>> escape_markdown("<script>alert(1)</script> *bold*")
        '&lt;script&gt;alert\\\\(1\\\\)&lt;/script&gt; \\\\*bold\\\\*'
    """
    if not text:
        return ""
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


# -- the digest --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chart:
    """A static chart: PNG bytes and what it shows."""

    name: str
    title: str
    description: str
    png: bytes
    scale: float = _CHART_SCALE

    @property
    def width(self) -> int:
        """Display width in CSS pixels (the PNG is rendered at `scale` for sharp text on dense screens)."""
        return round(int.from_bytes(self.png[16:20], "big") / self.scale)

    @property
    def data_uri(self) -> str:
        """The PNG as a `data:` URI (the HTML page embeds it; nothing is fetched)."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class Digest:
    """Everything a digest shows, before rendering."""

    id: str
    title: str
    window_start: date
    window_end: date
    baseline_start: date
    generated_at: datetime
    alerts: list[Alert]
    changes: list[dict[str, Any]]
    languages: list[dict[str, Any]]
    totals: dict[str, Any]
    charts: list[Chart] = field(default_factory=list)
    #: For non-English evidence: the English member of the same message (id, source_id, title, excerpt).
    counterparts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def days(self) -> int:
        """Days in the window."""
        return (self.window_end - self.window_start).days + 1

    @property
    def alert_counts(self) -> dict[str, int]:
        """Alerts per kind, in the digest's order."""
        counts = {kind.value: 0 for kind in _KIND_ORDER}
        for alert in self.alerts:
            counts[alert.kind.value] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        """The structured digest (what the webhook sends and the warehouse keeps), JSON-ready."""
        return {
            "id": self.id,
            "title": self.title,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "totals": self.totals,
            "alert_counts": self.alert_counts,
            "charts": [chart.name for chart in self.charts],
            "alerts": [alert.as_row() for alert in self.alerts],
            "changes": [
                {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()} for row in self.changes
            ],
        }


@dataclass(frozen=True)
class DigestFiles:
    """Where `write_digest` put the digest."""

    markdown: Path
    html: Path
    images: list[Path]


def build_digest(
    con: duckdb.DuckDBPyConnection,
    since: date,
    now: datetime | None = None,
    settings: AlertSettings | None = None,
    charts: bool = True,
) -> Digest:
    """Collect a digest of the days from `since` to today: alerts, rising narratives, languages, charts.

    Args:
        con: a warehouse connection (read-only is enough).
        since: first day of the window (e.g. `pmon.warehouse.parse_since("7d")`).
        now: naive UTC now (default: the current time); the window ends with its day.
        settings: alert settings; their `baseline_days` sets the comparison window before `since`.
        charts: render the charts (about two seconds: vl-convert starts a JavaScript engine once per process).

    Returns:
        A `Digest`; its id is a hash of the window and the alert ids, so the same digest is recognised when
        delivered again.
    """
    from pmon.warehouse.store import utcnow

    settings = settings or AlertSettings()
    now = now or utcnow()
    today = now.date()
    if since > today:
        raise ValueError(f"the digest window starts after today ({since} > {today})")
    baseline_start = since - timedelta(days=settings.baseline_days)
    alerts = sorted(
        list_alerts(con, since=since, include_dismissed=False),
        key=lambda a: (_KIND_ORDER[a.kind], -(a.score or 0), a.id),
    )
    days = (today - since).days + 1
    changes = _changes(con, since, today, settings)
    languages = _languages(con, since, today, baseline_start, days, settings.baseline_days)
    totals = {
        "documents": sum(row["documents"] for row in languages),
        "expected_documents": round(sum(row["expected"] for row in languages), 1),
        "narrative_documents": _scalar(
            con,
            """SELECT count(DISTINCT d.id) FROM documents d JOIN detections det ON det.document_id = d.id
               WHERE CAST(d.published_at AS DATE) BETWEEN ? AND ?""",
            [since, today],
        ),
        "sources": _scalar(
            con, "SELECT count(DISTINCT source_id) FROM doc_daily WHERE day BETWEEN ? AND ?", [since, today]
        ),
    }
    key = "\x1f".join([since.isoformat(), today.isoformat(), *sorted(a.id for a in alerts)])
    digest = Digest(
        id=hashlib.sha256(key.encode()).hexdigest()[:32],
        title=f"pmon digest · {since:%Y-%m-%d} – {today:%Y-%m-%d}",
        window_start=since, window_end=today, baseline_start=baseline_start, generated_at=now, alerts=alerts,
        changes=changes, languages=languages, totals=totals,
    )
    digest.counterparts = _english_counterparts(con, alerts)
    if charts:
        digest.charts = _charts(con, digest)
    return digest


def _english_counterparts(con: duckdb.DuckDBPyConnection, alerts: list[Alert]) -> dict[str, dict[str, Any]]:
    """The English member of each non-English evidence document's message, with a short excerpt."""
    from pmon.warehouse.links import english_counterparts

    asked = sorted({e.document_id for a in alerts for e in a.evidence if e.lang and e.lang != "en"})
    found = english_counterparts(con, asked)
    for row in found.values():
        row["excerpt"] = _excerpt(row.pop("text") or "")
    return found


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    return int(con.execute(sql, params).fetchall()[0][0] or 0)


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _changes(con: duckdb.DuckDBPyConnection, since: date, today: date, settings: AlertSettings) -> list[dict[str, Any]]:
    """Narrative × language: documents in the window against what the baseline predicts, computed as the spike
    rule computes it (`alerts.rules.expected_counts`), so a cell shows the same expected count in both."""
    windows = Windows(today, since, since - timedelta(days=settings.baseline_days))
    out = []
    for cell in expected_counts(con, settings, windows, "lang"):
        expected = cell["expected"] or 0.0
        row = {"narrative": cell["narrative"], "lang": cell["key"], "documents": cell["recent"],
               "baseline": cell["baseline"], "expected": round(expected, 2),
               "change": round(cell["recent"] / expected, 1) if expected else None,
               "delta": round(cell["recent"] - expected, 1)}
        if row["documents"] >= 3 and row["delta"] >= 2:
            out.append(row)
    # A parent rising only because one of its listed sub-narratives rises adds nothing.
    listed = {(r["narrative"], r["lang"]) for r in out}
    out = [r for r in out if not any(n.startswith(r["narrative"] + ".") and lang == r["lang"] for n, lang in listed)]
    out.sort(key=lambda r: (-r["delta"], r["narrative"], r["lang"]))
    return out[:12]


def _languages(
    con: duckdb.DuckDBPyConnection, since: date, today: date, baseline_start: date, days: int, baseline_days: int
) -> list[dict[str, Any]]:
    rows = _rows(con.execute(
        """SELECT lang,
                  coalesce(sum(documents) FILTER (WHERE day >= $since), 0) AS documents,
                  coalesce(sum(documents) FILTER (WHERE day < $since), 0) AS baseline
           FROM doc_daily WHERE day >= $base AND day <= $today GROUP BY ALL ORDER BY documents DESC, lang""",
        {"since": since, "base": baseline_start, "today": today},
    ))
    for row in rows:
        row["documents"], row["baseline"] = int(row["documents"]), int(row["baseline"])
        row["expected"] = round(row["baseline"] * days / baseline_days, 1)
    return rows


# -- charts ------------------------------------------------------------------------------------------------------
def _is_parent(narrative: str, present: set[str]) -> bool:
    return any(other.startswith(narrative + ".") for other in present)


def _trend_narratives(digest: Digest, recent: dict[str, int], present: set[str]) -> list[str]:
    """Narratives with alerts first, then the most frequent in the window; parents only when they alerted."""
    chosen: list[str] = []
    for alert in digest.alerts:
        if alert.narrative and alert.narrative not in chosen:
            chosen.append(alert.narrative)
    for narrative, _ in sorted(recent.items(), key=lambda kv: (-kv[1], kv[0])):
        if narrative not in chosen and not _is_parent(narrative, present):
            chosen.append(narrative)
    return chosen[:_MAX_TREND_NARRATIVES]


def _charts(con: duckdb.DuckDBPyConnection, digest: Digest) -> list[Chart]:
    import altair as alt
    import vl_convert

    today, since = digest.window_end, digest.window_start
    # 7-day buckets ending today (not calendar weeks), so the last point is a whole week, not a partial one.
    weekly = _rows(con.execute(
        """SELECT narrative, lang,
                  CAST($today::DATE - 7 * CAST(floor(date_diff('day', day, $today::DATE) / 7) AS INTEGER) AS DATE)
                      AS week_ending,
                  sum(documents) AS documents
           FROM narrative_daily WHERE day >= $start AND day <= $today GROUP BY ALL""",
        {"today": today, "start": digest.baseline_start},
    ))
    present = {row["narrative"] for row in weekly}
    recent: dict[str, int] = {}
    for row in con.execute(
        "SELECT narrative, sum(documents) FROM narrative_daily WHERE day BETWEEN ? AND ? GROUP BY ALL", [since, today]
    ).fetchall():
        recent[row[0]] = int(row[1])
    narratives = _trend_narratives(digest, recent, present)
    langs = sorted({row["lang"] for row in weekly if row["narrative"] in narratives})
    weeks = sorted({row["week_ending"] for row in weekly})
    counts = {(r["narrative"], r["lang"], r["week_ending"]): int(r["documents"]) for r in weekly}
    # Explicit zeros: a line that drops to nothing must be drawn down to 0, not interpolated across the gap.
    trend_values = [
        {"narrative": n, "lang": lang, "week_ending": w.isoformat(), "documents": counts.get((n, lang, w), 0)}
        for n in narratives for lang in langs for w in weeks
        if any(counts.get((n, lang, x)) for x in weeks)
    ]
    charts: list[Chart] = []
    if trend_values:
        line = (
            alt.Chart(alt.Data(values=trend_values))  # type: ignore[no-untyped-call]  # altair's Data is untyped
            .mark_line(point=alt.OverlayMarkDef(size=28), strokeWidth=2)
            .encode(
                x=alt.X(
                    "week_ending:T", title="7 days ending", axis=alt.Axis(format="%d %b", labelAngle=0, tickCount=5)
                ),
                y=alt.Y("documents:Q", title="documents"),
                color=alt.Color("narrative:N", legend=alt.Legend(orient="bottom", columns=3, title="narrative")),
            )
            .properties(width=300, height=150)
        )
        chart = line.facet(
            facet=alt.Facet("lang:N", title=None, header=alt.Header(labelFontSize=14, labelFontWeight="bold")),
            columns=3,
        ).properties(
            title=f"Narrative trends per language, 7-day counts since {digest.baseline_start:%d %b %Y}"
        )
        charts.append(Chart(
            name="trends", title="Narrative trends per language",
            description="Documents per 7 days for the narratives with alerts and the most frequent ones, one panel "
            "per language.",
            png=vl_convert.vegalite_to_png(chart.to_dict(), scale=_CHART_SCALE),
        ))
    cells = _rows(con.execute(
        "SELECT narrative, lang, sum(documents) AS documents FROM narrative_daily "
        "WHERE day BETWEEN ? AND ? GROUP BY ALL",
        [since, today],
    ))
    window_present = {row["narrative"] for row in cells}
    heat_values = [
        {"narrative": row["narrative"], "lang": row["lang"], "documents": int(row["documents"])}
        for row in cells if not _is_parent(row["narrative"], window_present)
    ]
    if heat_values:
        base = alt.Chart(alt.Data(values=heat_values)).encode(  # type: ignore[no-untyped-call]  # altair's Data is untyped
            x=alt.X("lang:N", title="language", axis=alt.Axis(orient="top", labelAngle=0)),
            y=alt.Y("narrative:N", title=None, sort="ascending"),
        )
        heat = base.mark_rect().encode(
            color=alt.Color("documents:Q", scale=alt.Scale(scheme="orangered"), legend=alt.Legend(title="documents"))
        )
        text = base.mark_text(fontSize=13).encode(
            text="documents:Q",
            color=alt.condition(alt.datum.documents > max(v["documents"] for v in heat_values) / 2,
                                alt.value("white"), alt.value("black")),
        )
        size = len({v["lang"] for v in heat_values})
        chart = (heat + text).properties(
            width=max(240, 84 * size), height=alt.Step(28),
            title=f"Narrative × language, documents {since:%d %b} – {today:%d %b %Y}",
        )
        charts.append(Chart(
            name="heatmap", title="Narrative × language",
            description="Documents per narrative and language in the window.",
            png=vl_convert.vegalite_to_png(chart.to_dict(), scale=_CHART_SCALE),
        ))
    return charts


# -- rendering ---------------------------------------------------------------------------------------------------
def _environment(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=html,  # noqa: S701 - HTML: every value escaped; Markdown escapes explicitly with the `md` filter
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["defang"] = defang
    env.filters["md"] = escape_markdown
    env.filters["day"] = lambda value: value.strftime("%Y-%m-%d") if value else ""
    env.filters["number"] = _number
    env.filters["dir"] = _direction
    return env


def _number(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    return f"{int(value):,}"


_RTL = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")


def _direction(text: str | None) -> str:
    """'rtl' when the text is mostly Arabic/Hebrew script (Persian, Pashto, Uyghur), else 'ltr'."""
    if not text:
        return "ltr"
    letters = [ch for ch in text if ch.isalpha()]
    return "rtl" if letters and sum(1 for ch in letters if _RTL.match(ch)) * 2 > len(letters) else "ltr"


def _context(digest: Digest) -> dict[str, Any]:
    return {
        "digest": digest,
        "alerts_by_kind": [(kind.value, [a for a in digest.alerts if a.kind is kind]) for kind in _KIND_ORDER],
        "kind_titles": {"spike": "Spikes", "spread": "Spread to a new language or source",
                        "release_spread": "One message across languages (linked translations)",
                        "emerging": "Emerging groups of posts (no narrative yet)", "silence": "Sources gone quiet"},
    }


def render_markdown(digest: Digest, image_paths: dict[str, str] | None = None) -> str:
    """The digest as Markdown; charts link to `image_paths[chart.name]` (relative paths) when given."""
    template = _environment(html=False).get_template("digest.md.j2")
    return template.render(**_context(digest), image_paths=image_paths or {})


def render_html(digest: Digest, image_src: Callable[[Chart], str] | None = None) -> str:
    """The digest as one self-contained HTML page (charts as `data:` URIs unless `image_src` says otherwise)."""
    template = _environment(html=True).get_template("digest.html.j2")
    return template.render(**_context(digest), image_src=image_src or (lambda chart: chart.data_uri))


def write_digest(digest: Digest, out_dir: Path) -> DigestFiles:
    """Write `<stem>.md` (with its chart PNGs beside it) and a self-contained `<stem>.html` into `out_dir`.

    The stem is `digest-<last day>-<days>d`, so a daily and a weekly digest of the same day do not collide.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = digest_stem(digest.window_start, digest.window_end)
    images = []
    paths = {}
    for chart in digest.charts:
        path = out_dir / chart_file_name(stem, chart.name)
        path.write_bytes(chart.png)
        images.append(path)
        paths[chart.name] = path.name
    markdown = out_dir / f"{stem}.md"
    markdown.write_text(render_markdown(digest, paths), encoding="utf-8")
    html = out_dir / f"{stem}.html"
    html.write_text(render_html(digest), encoding="utf-8")
    return DigestFiles(markdown=markdown, html=html, images=images)


def digest_stem(window_start: date, window_end: date) -> str:
    """File name stem of a digest: `digest-<last day>-<days>d` (a daily and a weekly digest do not collide)."""
    return f"digest-{window_end:%Y-%m-%d}-{(window_end - window_start).days + 1}d"


def chart_file_name(stem: str, chart_name: str) -> str:
    """The PNG file of one chart beside the Markdown digest."""
    return f"{stem}-{chart_name}.png"


def charts_from_html(html: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Swap the page's `data:` PNGs for `cid:` references (for e-mail); returns the page and (cid, png) pairs."""
    parts: list[tuple[str, bytes]] = []

    def swap(match: re.Match[str]) -> str:
        cid = f"chart{len(parts) + 1}.{hashlib.sha256(match.group(1).encode()).hexdigest()[:12]}@pmon"
        parts.append((cid, base64.b64decode(match.group(1))))
        return f'src="cid:{cid}"'

    return re.sub(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', swap, html), parts
