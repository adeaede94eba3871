"""The newsroom page: a small Starlette app over the database, opened read-only per request.

Pages: `/` today's stories with each country's coverage side by side, frame shares per country,
the latest relevant articles (refreshed by /static/app.js polling `/api/latest`, same origin) and
feed health in brief; `/search` (the CLI's query syntax); `/article/ID` (original, translation,
evidence); `/story/ID`; `/feeds` (feed health). Feed text is rendered through Jinja2 autoescape
only (never `|safe`), links are http(s) only, and every response carries a strict CSP: no inline
script or style, nothing from another origin.

    app = create_app(settings)           # then: uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import sqlite_utils
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.analysis.stories import get_story, list_stories
from monitor.config.bounds import day_in_range, day_range_text, id_in_range
from monitor.config.settings import Settings
from monitor.errors import MonitorError
from monitor.ingest.urls import http_url
from monitor.store.db import open_db, to_jsonable
from monitor.web import data

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """ASGI middleware: the security headers on every response, static files and errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in SECURITY_HEADERS if h[0] not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["http_url"] = http_url
    env.filters["hm"] = _hm
    env.filters["frame_label"] = lambda fid, labels: labels.get(fid, fid) if fid else ""
    return env


def _hm(value: str | None) -> str:
    """'2026-11-22T14:05:00+00:00' -> '2026-11-22 14:05 UTC' (short, unambiguous)."""
    if not value:
        return ""
    return value[:16].replace("T", " ") + " UTC"


def create_app(settings: Settings) -> Starlette:
    """The newsroom app for `settings` (the database is opened read-only for each request)."""
    env = templates()
    db_path = settings.db_path

    @contextmanager
    def database() -> Iterator[sqlite_utils.Database]:
        db = open_db(db_path, readonly=True)
        try:
            yield db
        finally:
            db.close()

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("title", "")
        context.update(request=request, refresh_s=settings.serve.refresh_s, query_text=context.get("query_text", ""))
        return HTMLResponse(env.get_template(name).render(**context), status_code=status)

    def index(request: Request) -> Response:
        day_param = request.query_params.get("day")
        try:
            if day_param and not day_in_range(date.fromisoformat(day_param)):
                return render(request, "error.html", 400, title="Bad date", message=f"day must be {day_range_text()}")
        except ValueError:
            return render(request, "error.html", 400, title="Bad date", message="day must be YYYY-MM-DD, e.g. ?day=2026-11-22")
        with database() as db:
            day = data.pick_day(db, settings, day_param)
            labels = data.frame_labels(settings)
            stories = list_stories(db, day.start, day.end, limit=30)
            country_list = data.countries(db)
            return render(
                request,
                "index.html",
                title="Newsroom",
                day=day,
                links=data.day_links(day.day),
                stories=stories,
                countries=country_list,
                frames=data.frame_shares(db, day.start, day.end, labels),
                labels=labels,
                latest=data.latest_articles(db, settings.serve.latest),
                health=data.health_summary(data.feed_health(db)),
                updated=data.last_update(db),
            )

    def api_latest(request: Request) -> Response:
        try:
            after = int(request.query_params.get("after", "0"))
            limit = min(100, max(1, int(request.query_params.get("limit", str(settings.serve.latest)))))
        except ValueError:
            return JSONResponse({"error": "after and limit must be whole numbers"}, status_code=400)
        if not (after == 0 or id_in_range(after)):
            return JSONResponse({"error": "after must be an article id (0 for the newest)"}, status_code=400)
        with database() as db:
            articles = data.latest_articles(db, limit, after=after)
            updated = data.last_update(db)
        keys = ("id", "outlet", "outlet_name", "country", "language", "title", "title_translated", "published",
                "top_frame", "href")
        return JSONResponse({"articles": [{k: a.get(k) for k in keys} for a in articles], "updated": updated})

    def search_page(request: Request) -> Response:
        from monitor.search.engine import QUERY_TRANSLATION_BUDGET_S, search
        from monitor.search.query import parse_query
        from monitor.search.semantic import semantic_search

        text = request.query_params.get("q", "")
        sort = request.query_params.get("sort", "relevance")
        sort = sort if sort in ("relevance", "date") else "relevance"
        semantic = request.query_params.get("semantic", "") in ("1", "on", "true")
        like_param = request.query_params.get("like", "").strip()
        hits: list[Any] = []
        error = ""
        busy = False  # the query translator was busy: searched as typed (the search library says so)
        like: int | None = None
        if like_param:
            like = int(like_param) if like_param.isdigit() and id_in_range(int(like_param)) else None
            if like is None:
                error = f"like must be an article id, e.g. ?like=12 (got {like_param[:40]!r})"
        searched = bool(text.strip()) or like is not None
        if searched and not error:
            try:
                with database() as db:
                    query = parse_query(text, allow_empty=like is not None)
                    if semantic or like is not None:
                        result = semantic_search(db, settings, query, like=like, limit=50, sort=sort, title_language="en")
                    else:
                        result = search(db, settings, query, limit=50, sort=sort, title_language="en",
                                        translation_budget_s=QUERY_TRANSLATION_BUDGET_S)
                    hits, busy = [_hit_view(h) for h in result.hits], result.translation_busy
            except MonitorError as exc:
                error = str(exc)
        return render(request, "search.html", 400 if error else 200, title="Search", query_text=text, sort=sort,
                      hits=hits, error=error, searched=searched or bool(error), translation_busy=busy,
                      semantic=semantic or like is not None, like=like)

    def article_page(request: Request) -> Response:
        article_id = _known_id(request, "article")
        with database() as db:
            art = data.get_article(db, article_id)
        if art is None:
            raise HTTPException(404, f"no article {article_id}")
        return render(request, "article.html", title=art["title"], art=art, labels=data.frame_labels(settings))

    def story_page(request: Request) -> Response:
        story_id = _known_id(request, "story")
        with database() as db:
            story = get_story(db, story_id)
            country_list = data.countries(db)
        if story is None:
            raise HTTPException(404, f"no story {story_id}")
        title = story.title_en.headline if story.title_en else story.label_en or f"Story {story.id}"
        return render(request, "story.html", title=title, story=story,
                      countries=country_list, labels=data.frame_labels(settings))

    def feeds_page(request: Request) -> Response:
        with database() as db:
            feeds = data.feed_health(db)
        return render(request, "feeds.html", title="Feed health", feeds=feeds, health=data.health_summary(feeds))

    def healthz(request: Request) -> Response:
        with database() as db:
            updated = data.last_update(db)
        return JSONResponse({"ok": True, "updated": updated})

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        detail = getattr(exc, "detail", "not found")
        return render(request, "error.html", status, title="Not found" if status == 404 else "Error", message=str(detail))

    async def monitor_error(request: Request, exc: Exception) -> Response:
        return render(request, "error.html", 503, title="Database unavailable", message=str(exc))

    routes = [
        Route("/", index),
        Route("/search", search_page),
        Route("/article/{id:int}", article_page),
        Route("/story/{id:int}", story_page),
        Route("/feeds", feeds_page),
        Route("/api/latest", api_latest),
        Route("/healthz", healthz),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    handlers: dict[Any, Callable[..., Any]] = {HTTPException: not_found, MonitorError: monitor_error}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.add_middleware(SecurityHeaders)
    return app


def _known_id(request: Request, what: str) -> int:
    """The path's {id}; one that cannot be a stored id (beyond SQLite's INTEGER) is a 404, not an overflow."""
    value = int(request.path_params["id"])
    if not id_in_range(value):
        raise HTTPException(404, f"no {what} {value}")
    return value


def _hit_view(hit: Any) -> dict[str, Any]:
    """A search hit as plain data for the template (whatever fields the search library provides)."""
    view = to_jsonable(hit)
    view = dict(view) if isinstance(view, dict) else {"title": str(hit)}
    view["href"] = http_url(view.get("url"))
    if "id" not in view:
        view["id"] = view.get("article")
    view["snippet_parts"] = snippet_parts(str(view.get("snippet") or ""))
    return view


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """Split a search snippet into (text, highlighted) runs; the template escapes each run."""
    from monitor.search.engine import MARK_END, MARK_START

    parts: list[tuple[str, bool]] = []
    for i, chunk in enumerate(snippet.split(MARK_START)):
        if i == 0:
            parts.append((chunk, False))
            continue
        marked, _, rest = chunk.partition(MARK_END)
        parts += [(marked, True), (rest, False)]
    return [(t, m) for t, m in parts if t]
