"""`pmon ui`: the analyst's workspace, a Starlette application over the warehouse.

Pages are rendered on the server by Jinja2 (autoescape on: every ingested text is escaped, links are defanged and
never made clickable), charts are inline SVG, and the only script is /static/app.js (keyboard review); a strict
Content-Security-Policy forbids everything else, so the pages load nothing from outside the machine. Every POST
carries the per-process CSRF token; off loopback every request carries the access token. All SQL lives in
`pmon.warehouse.browse` and `pmon.warehouse.labels`; the warehouse is reached through `WarehouseAccess`, so pages
stay up while a run writes and verdicts given meanwhile are queued, never lost.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pmon.alerts.digest import defang
from pmon.alerts.rules import list_alerts
from pmon.schemas.codebook import DEFAULT_CODEBOOK, Codebook, load_codebook
from pmon.ui.charts import line_chart
from pmon.warehouse import (
    TrendQuery,
    TrendQueryError,
    WarehouseBusy,
    browse,
    compare_windows,
    parse_since,
    query_trends,
)
from pmon.warehouse.access import ReadInfo, WarehouseAccess
from pmon.warehouse.labels import VERDICTS, record_label

HERE = Path(__file__).resolve().parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
TOKEN_COOKIE = "pmon_ui_token"  # noqa: S105 - the cookie's name, not a secret
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass
class UiSettings:
    """What `pmon ui` was started with."""

    db: Path
    token: str | None = None
    analyst: str | None = None
    codebook: Path = DEFAULT_CODEBOOK
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    threshold: float = 0.30
    background: bool = True


def requires_token(host: str) -> bool:
    """Binding anything but loopback exposes the warehouse: such a server must check a token."""
    return host not in LOOPBACK


# -- helpers -----------------------------------------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def json_response(data: Any, status: int = 200) -> Response:
    """JSON with dates as ISO strings, non-ASCII kept (the same values `pmon ... --format json` prints)."""
    body = json.dumps(data, ensure_ascii=False, default=_json_default)
    return Response(body, status_code=status, media_type="application/json")


def highlight(text: str, evidence: Sequence[str]) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_evidence) so that every occurrence of an evidence sentence is marked."""
    marks = [False] * len(text)
    for sentence in {s for s in evidence if s}:
        start = text.find(sentence)
        while start >= 0:
            marks[start : start + len(sentence)] = [True] * len(sentence)
            start = text.find(sentence, start + len(sentence))
    pieces: list[tuple[str, bool]] = []
    for ch, marked in zip(text, marks, strict=True):
        if pieces and pieces[-1][1] == marked:
            pieces[-1] = (pieces[-1][0] + ch, marked)
        else:
            pieces.append((ch, marked))
    return pieces


def _local_path(target: str | None, fallback: str) -> str:
    """A redirect target only when it is a path on this server (no open redirect to another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def _since(text: str | None, default: str) -> date:
    return parse_since(text or default)


class Form:
    """An url-encoded form body (the only kind these pages send; no multipart parser needed)."""

    def __init__(self, body: bytes) -> None:
        self._values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)

    def get(self, key: str, default: str = "") -> str:
        values = self._values.get(key)
        return values[0] if values else default

    def getlist(self, key: str) -> list[str]:
        return list(self._values.get(key, []))

    def __getitem__(self, key: str) -> str:
        return self._values[key][0]


async def read_form(request: Request) -> Form:
    """The request's form (the body is cached by Starlette, so middleware and endpoint both read it)."""
    return Form(await request.body())


class BadRequest(ValueError):
    """A request parameter that fails validation; answered 400 with the message."""


# -- the application ---------------------------------------------------------------------------------------------
def create_app(settings: UiSettings) -> Starlette:
    """The Starlette application for one warehouse."""
    access = WarehouseAccess(settings.db)
    book: Codebook = load_codebook(settings.codebook)
    narratives = {n.id: n for n in book.narratives}
    leaf_ids = set(book.leaf_ids)

    def apply_label(con: Any, payload: dict[str, Any]) -> None:
        at = datetime.fromisoformat(payload["at"])
        for document_id in payload["document_ids"]:
            record_label(con, document_id, payload["narrative"], payload["verdict"], payload.get("stance"),
                         payload.get("analyst"), labelled_at=at)

    def apply_alert(con: Any, payload: dict[str, Any]) -> None:
        browse.record_alert_action(con, payload["alert_id"], payload["action"], payload.get("analyst"),
                                   acted_at=datetime.fromisoformat(payload["at"]))

    access.appliers.update(label=apply_label, alert=apply_alert)

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["defang"] = defang
    env.filters["label"] = lambda nid: narratives[nid].label if nid in narratives else nid
    env.filters["short"] = lambda value: str(value)[:12]
    env.filters["when"] = lambda v: v.strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else (v or "")
    env.globals.update(csrf=settings.csrf, narratives=narratives, leaf_ids=sorted(leaf_ids),
                       stances=browse.STANCES)

    def page(request: Request, template: str, info: ReadInfo | None, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(request=request, info=info, pending=len(access.pending()),
                                                 path=request.url.path, **context)
        return HTMLResponse(html, status_code=status)

    # -- pages ---------------------------------------------------------------------------------------------------
    def overview(request: Request) -> Response:
        since = date.today() - timedelta(weeks=12)
        with access.read() as (con, info):
            weekly = browse.narrative_weekly(con, since)
            movers = compare_windows(con, recent_days=14, baseline_days=56, by=("narrative", "lang"))
            alerts = list_alerts(con)[:8]
            actions = browse.alert_actions(con, [a.id for a in alerts])
            runs = browse.list_runs(con, 5)
            quarantine = browse.quarantine_counts(con)
            silent = [s for s in browse.source_health(con) if s["silent"]]
        weeks = sorted({row["week"] for row in weekly})
        totals: dict[str, int] = {}
        for row in weekly:
            totals[row["narrative"]] = totals.get(row["narrative"], 0) + row["documents"]
        charts = []
        for nid in sorted(totals, key=lambda n: (-totals[n], n))[:8]:
            per_lang: dict[str, list[int]] = {}
            for row in weekly:
                if row["narrative"] == nid:
                    per_lang.setdefault(row["lang"], [0] * len(weeks))[weeks.index(row["week"])] += row["documents"]
            label = narratives[nid].label if nid in narratives else nid
            charts.append(line_chart(weeks, dict(sorted(per_lang.items())), label, href=f"/narratives/{nid}"))
        movers = sorted((m for m in movers if m["recent"] >= 2),
                        key=lambda m: (-(m["change"] if m["change"] is not None else 1e9), -m["recent"]))[:10]
        return page(request, "overview.html", info, charts=charts, movers=movers, alerts=alerts, actions=actions,
                    runs=runs, quarantine=quarantine, silent=silent)

    def narrative(request: Request) -> Response:
        nid = request.path_params["narrative_id"]
        if nid not in narratives:
            return page(request, "error.html", None, status=404, message=f"no narrative {nid!r} in the codebook")
        since = _since(request.query_params.get("since"), "90d")
        with access.read() as (con, info):
            summary = browse.narrative_summary(con, nid, since)
        weeks = sorted({row["week"] for row in summary["by_lang"]})
        per_lang: dict[str, list[int]] = {}
        for row in summary["by_lang"]:
            per_lang.setdefault(row["lang"], [0] * len(weeks))[weeks.index(row["week"])] += row["documents"]
        chart = line_chart(weeks, dict(sorted(per_lang.items())), "documents per week, by language", width=560)
        children = [n for n in narratives.values() if n.parent == nid]
        return page(request, "narrative.html", info, narrative=narratives[nid], summary=summary, chart=chart,
                    children=children, since=since)

    def document(request: Request) -> Response:
        given = request.path_params["document_id"]
        with access.read() as (con, info):
            try:
                document_id = browse.resolve_document_id(con, given)
            except browse.DocumentIdError as exc:
                return page(request, "error.html", info, status=404, message=str(exc))
            if document_id != given:
                return RedirectResponse(f"/documents/{document_id}", status_code=307)
            doc = browse.get_document(con, document_id)
            similar = browse.similar_documents(con, document_id)
        if doc is None:  # resolved a moment ago, but gone from the snapshot now read
            return page(request, "error.html", info, status=404, message=f"no document {document_id}")
        evidence = [s for det in doc["detections"] for s in (det["evidence"] or [])]
        return page(request, "document.html", info, doc=doc, similar=similar, pieces=highlight(doc["text"], evidence),
                    title_pieces=highlight(doc["title"] or "", evidence))

    def search(request: Request) -> Response:
        params = request.query_params
        try:
            flt = _document_filter(params, narratives)
        except BadRequest as exc:
            return page(request, "error.html", None, status=400, message=str(exc))
        with access.read() as (con, info):
            results = browse.search_documents(con, flt)
            sources = [s["id"] for s in browse.source_health(con)]
        return page(request, "search.html", info, results=results, params=params, sources=sources, flt=flt)

    def alerts_page(request: Request) -> Response:
        with access.read() as (con, info):
            alerts = list_alerts(con)
            actions = browse.alert_actions(con, [a.id for a in alerts])
        queued = {e["payload"]["alert_id"]: e["payload"]["action"] for e in access.pending() if e["kind"] == "alert"}
        return page(request, "alerts.html", info, alerts=alerts, actions=actions, queued=queued)

    async def alert_action(request: Request) -> Response:
        form = await read_form(request)
        alert_id = request.path_params["alert_id"]
        action = str(form.get("action", ""))
        if action not in browse.ALERT_ACTIONS:
            return PlainTextResponse(f"action must be one of {', '.join(browse.ALERT_ACTIONS)}", status_code=400)
        with access.read() as (con, _):
            if not browse.alert_exists(con, alert_id):
                return PlainTextResponse(f"no alert {alert_id!r}", status_code=404)
        access.submit("alert", {"alert_id": alert_id, "action": action, "analyst": settings.analyst,
                                "at": datetime.utcnow().isoformat()})  # noqa: DTZ003 - the warehouse is naive UTC
        return RedirectResponse(_local_path(str(form.get("next", "")), "/alerts"), status_code=303)

    def _queue(con: Any) -> list[dict[str, Any]]:
        waiting = [(d, e["payload"]["narrative"]) for e in access.pending() if e["kind"] == "label"
                   for d in e["payload"]["document_ids"]]
        return browse.review_queue(con, settings.threshold, limit=100, exclude=waiting)

    def review(request: Request) -> Response:
        try:
            at = max(0, int(request.query_params.get("at", "0")))
        except ValueError:
            at = 0
        with access.read() as (con, info):
            queue = _queue(con)
            item = queue[at] if at < len(queue) else None
            doc = browse.get_document(con, item["document_id"]) if item else None
        pieces = []
        if doc and item:
            evidence = [s for det in doc["detections"] if det["narrative"] == item["narrative"]
                        for s in (det["evidence"] or [])]
            pieces = highlight(doc["text"], evidence)
        return page(request, "review.html", info, item=item, doc=doc, pieces=pieces, at=at, total=len(queue))

    async def review_post(request: Request) -> Response:
        form = await read_form(request)
        try:
            payload = _verdict(form, leaf_ids)
        except BadRequest as exc:
            return PlainTextResponse(str(exc), status_code=400)
        with access.read() as (con, _):
            missing = [d for d in payload["document_ids"] if not browse.document_exists(con, d)]
        if missing:
            return PlainTextResponse(f"no document {missing[0]!r}", status_code=404)
        base = {"analyst": settings.analyst, "at": datetime.utcnow().isoformat()}  # noqa: DTZ003
        if payload.pop("relabel_to", None):
            # Relabel: the detected narrative is wrong, another one is right.
            access.submit("label", {**base, "document_ids": payload["document_ids"], "narrative": payload["narrative"],
                                    "verdict": "reject", "stance": None})
            payload["narrative"], payload["verdict"] = str(form["relabel_to"]), "confirm"
        access.submit("label", {**base, **payload})
        return RedirectResponse(_local_path(str(form.get("next", "")), "/review"), status_code=303)

    def runs_page(request: Request) -> Response:
        with access.read() as (con, info):
            runs = browse.list_runs(con, 50)
        return page(request, "runs.html", info, runs=runs)

    def sources_page(request: Request) -> Response:
        with access.read() as (con, info):
            sources = browse.source_health(con)
            quarantine = browse.quarantine_counts(con)
        return page(request, "sources.html", info, sources=sources, quarantine=quarantine)

    # -- JSON ----------------------------------------------------------------------------------------------------
    def api_trends(request: Request) -> Response:
        params = request.query_params
        try:
            query = TrendQuery(
                by=tuple(p.strip() for p in params.get("by", "narrative,lang").split(",") if p.strip()),
                period=params.get("period", "week"), since=parse_since(params.get("since", "90d")),
                until=date.fromisoformat(params["until"]) if params.get("until") else None,
                # the same filters as `pmon trends` (empty means none)
                variety=params.get("variety") or None, narrative=params.get("narrative") or None,
                lang=params.get("lang") or None, source=params.get("source") or None)
        except (TrendQueryError, ValueError) as exc:
            return json_response({"error": str(exc)}, status=400)
        with access.read() as (con, _):
            rows = query_trends(con, query)
            return json_response(list(rows))

    def api_documents(request: Request) -> Response:
        try:
            flt = _document_filter(request.query_params, narratives)
        except BadRequest as exc:
            return json_response({"error": str(exc)}, status=400)
        with access.read() as (con, _):
            return json_response(browse.search_documents(con, flt))

    def api_detections(request: Request) -> Response:
        params = request.query_params
        try:
            flt = _document_filter(params, narratives)
        except BadRequest as exc:
            return json_response({"error": str(exc)}, status=400)
        with access.read() as (con, _):
            return json_response(browse.list_detections(con, flt.narrative, flt.lang, flt.stance, flt.since, flt.limit))

    def api_alerts(request: Request) -> Response:
        with access.read() as (con, _):
            alerts = list_alerts(con)
            actions = browse.alert_actions(con, [a.id for a in alerts])
        return json_response([{**a.model_dump(mode="json"), "action": actions.get(a.id, {}).get("action")}
                              for a in alerts])

    def api_runs(request: Request) -> Response:
        try:
            limit = min(1000, int(request.query_params.get("limit", "20")))
        except ValueError:
            return json_response({"error": "limit: expected a number"}, status=400)
        with access.read() as (con, _):
            return json_response(browse.list_runs(con, limit))

    # -- middleware and errors -----------------------------------------------------------------------------------
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if settings.token is not None:
            offered = request.cookies.get(TOKEN_COOKIE) or request.query_params.get("token") or ""
            auth = request.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                offered = auth[7:]
            if not hmac.compare_digest(offered.encode(), settings.token.encode()):
                return _secure(PlainTextResponse("a token is required: open the link `pmon ui` printed", 401))
        if request.method == "POST":
            form = await read_form(request)
            offered = str(form.get("csrf", "")) or request.headers.get("x-csrf-token", "")
            if not hmac.compare_digest(offered.encode(), settings.csrf.encode()):
                return _secure(PlainTextResponse("missing or wrong CSRF token; reload the page", 403))
        try:
            response = await call_next(request)
        except WarehouseBusy:
            response = HTMLResponse(env.get_template("busy.html").render(), status_code=503,
                                    headers={"Retry-After": "5"})
        if settings.token is not None and request.query_params.get("token") and request.method == "GET":
            response.set_cookie(TOKEN_COOKIE, settings.token, httponly=True, samesite="strict")
        return _secure(response)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.background:
            access.start()
        yield
        access.stop()

    routes = [
        Route("/", overview),
        Route("/narratives/{narrative_id}", narrative),
        Route("/documents/{document_id}", document),
        Route("/search", search),
        Route("/alerts", alerts_page),
        Route("/alerts/{alert_id}", alert_action, methods=["POST"]),
        Route("/review", review),
        Route("/review", review_post, methods=["POST"]),
        Route("/runs", runs_page),
        Route("/sources", sources_page),
        Route("/api/trends", api_trends),
        Route("/api/documents", api_documents),
        Route("/api/detections", api_detections),
        Route("/api/alerts", api_alerts),
        Route("/api/runs", api_runs),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)], lifespan=lifespan)
    app.state.access = access
    app.state.settings = settings
    return app


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _document_filter(params: Any, narratives: dict[str, Any]) -> browse.DocumentFilter:
    """Search parameters validated: a known narrative and stance, a window `parse_since` understands."""
    nid = params.get("narrative") or None
    if nid is not None and nid not in narratives:
        raise BadRequest(f"narrative: no {nid!r} in the codebook")
    stance = params.get("stance") or None
    if stance is not None and stance not in browse.STANCES:
        raise BadRequest(f"stance: one of {', '.join(browse.STANCES)}")
    try:
        since = parse_since(params["since"]) if params.get("since") else None
        limit = max(1, min(500, int(params.get("limit", "50"))))
        offset = max(0, int(params.get("offset", "0")))
    except (TrendQueryError, ValueError) as exc:
        raise BadRequest(str(exc)) from exc
    return browse.DocumentFilter(q=params.get("q") or None, narrative=nid, lang=params.get("lang") or None,
                                 source=params.get("source") or None, stance=stance, since=since,
                                 limit=limit, offset=offset)


def _verdict(form: Any, leaf_ids: set[str]) -> dict[str, Any]:
    """A review form checked against the codebook and the four stances."""
    document_ids = [str(d) for d in form.getlist("document_id") if str(d).strip()]
    narrative = str(form.get("narrative", ""))
    verdict = str(form.get("verdict", ""))
    stance = str(form.get("stance", "")) or None
    relabel_to = str(form.get("relabel_to", "")) or None
    if not document_ids:
        raise BadRequest("document_id is required")
    if narrative not in leaf_ids and narrative != "*":
        raise BadRequest(f"narrative: {narrative!r} is not a narrative of the codebook")
    if verdict not in VERDICTS:
        raise BadRequest(f"verdict: one of {', '.join(VERDICTS)}")
    if stance is not None and stance not in browse.STANCES:
        raise BadRequest(f"stance: one of {', '.join(browse.STANCES)}")
    if relabel_to is not None and relabel_to not in leaf_ids:
        raise BadRequest(f"relabel_to: {relabel_to!r} is not a narrative of the codebook")
    if verdict == "reject":
        stance = None
    return {"document_ids": document_ids, "narrative": narrative, "verdict": verdict, "stance": stance,
            "relabel_to": relabel_to}

