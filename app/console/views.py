"""Console pages. Every page needs a live session and a role; every form carries the CSRF token."""

import inspect
import secrets
from collections.abc import Callable, Coroutine
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from babel import Locale
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from app.api.deps import AssistantDep, EngineDep, KnowledgeDep, SettingsDep, queue_of
from app.console import auth
from app.i18n import translations
from app.outbound import handovers
from app.storage.db import reachable
from app.storage.models import Message, utcnow

if TYPE_CHECKING:
    from jinja2 import Environment

COOKIE = "migrantinfo_console"
LOGIN_COOKIE = "migrantinfo_login"
CONSOLE_LANGUAGES = ("es", "en")


@cache
def _templates() -> "Environment":
    """The pages' templates, loaded with Jinja on the first page shown: a webhook-only process never loads them."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                       autoescape=select_autoescape(), extensions=["jinja2.ext.i18n"])


# Scripts only from the console's own files (no inline script); inline styles are used by the templates.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages show people's messages: no copy in a browser's or a proxy's cache
}


class LoginRequired(Exception):
    """An anonymous request for a console page: send it to the login form."""


def behind_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.settings.public_base_url.startswith("https://")


def secure(request: Request, response: Response) -> Response:
    """Add the console's security headers to a response."""
    response.headers.update(SECURITY_HEADERS)
    if behind_https(request):
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


class ConsoleRoute(APIRoute):
    """A console route: every answer carries the security headers, refusals and redirects to the login included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def secured(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:  # answered here by the app's own handlers, so that the headers go with it
                response = await _handled(request, exc)
            return secure(request, response)

        return secured


async def _handled(request: Request, exc: Exception) -> Response:
    """The app's answer to an exception (a redirect to the login, a 403, a 422), or the exception again."""
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        if kind in handlers and kind is not Exception:
            response = handlers[kind](request, exc)
            return await response if inspect.isawaitable(response) else response
    raise exc


router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False, route_class=ConsoleRoute)


def console_language(request: Request) -> str:
    """The console's language: ?lang=, then the browser's Accept-Language, then Spanish."""
    asked = request.query_params.get("lang") or request.cookies.get("migrantinfo_lang")
    if asked in CONSOLE_LANGUAGES:
        return str(asked)
    preferred = [part.split(";")[0].strip() for part in request.headers.get("accept-language", "").split(",")]
    locale = Locale.negotiate([tag for tag in preferred if tag], CONSOLE_LANGUAGES, sep="-")
    return locale.language if locale else "es"


def render(request: Request, name: str, *, status: int = 200, **values: object) -> HTMLResponse:
    settings = request.app.state.settings
    environment = _templates().overlay()
    environment.install_gettext_translations(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        translations(console_language(request), settings.locales_dir), newstyle=True)
    html = environment.get_template(name).render(request=request, language=console_language(request), **values)
    return HTMLResponse(html, status_code=status)


def role(*allowed: str) -> Callable:
    """A dependency: the logged-in account, which must have one of the allowed roles."""

    async def dependency(request: Request, engine: EngineDep) -> auth.Account:
        account = await anyio.to_thread.run_sync(auth.account_for, engine, request.cookies.get(COOKIE))
        if account is None:
            if request.method == "GET":
                raise LoginRequired()
            raise HTTPException(status_code=401, detail="log in first")
        if account.role not in allowed:
            raise HTTPException(status_code=403, detail="your role does not allow this")
        if request.method != "GET":
            form = await request.form()
            if not auth.csrf_matches(account, form.get("csrf_token") or request.headers.get("x-csrf-token")):
                raise HTTPException(status_code=403, detail="missing or wrong CSRF token")
        return account

    return dependency


AnyRole = Annotated[auth.Account, Depends(role(*auth.ROLES))]


@router.get("/login")
async def login_form(request: Request) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", login_token=token, error=None)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/console",
                        secure=behind_https(request))
    return response


@router.post("/login")
async def login(request: Request, settings: SettingsDep, engine: EngineDep, name: Annotated[str, Form()],
                password: Annotated[str, Form()], login_token: Annotated[str, Form()] = "") -> Response:
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, login_token):
        return render(request, "login.html", status=403, login_token=cookie, error="csrf")
    try:
        token = await anyio.to_thread.run_sync(lambda: auth.log_in(
            engine, name=name.strip(), password=password, client=auth.client_of(request.client and request.client.host),
            hours=settings.console_session_hours, max_failures=settings.login_max_failures,
            window_seconds=settings.login_window_seconds))
    except auth.LoginThrottled:
        return render(request, "login.html", status=429, login_token=cookie, error="throttled")
    except auth.AuthError:
        return render(request, "login.html", status=401, login_token=cookie, error="wrong")
    response = RedirectResponse("/console/health", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/console",
                        secure=behind_https(request),
                        max_age=int(settings.console_session_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request, engine: EngineDep, account: AnyRole) -> Response:
    await anyio.to_thread.run_sync(auth.log_out, engine, request.cookies.get(COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("")
async def home(account: AnyRole) -> Response:
    return RedirectResponse("/console/health", status_code=303)


def latency_percentiles(engine: Engine, *, hours: int = 24) -> dict[str, float | None]:
    """Percentiles of the time to answer, computed in the database (ORDER BY with OFFSET)."""
    since = utcnow() - timedelta(hours=hours)
    recent = (col(Message.direction) == "in", col(Message.created_at) >= since, col(Message.latency_ms).is_not(None))
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(Message).where(*recent)).scalar_one()
        result: dict[str, float | None] = {"count": count}
        for label, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99)):
            value = conn.execute(select(col(Message.latency_ms)).where(*recent).order_by(col(Message.latency_ms))
                                 .offset(int(q * (count - 1)) if count else 0).limit(1)).scalar()
            result[label] = round(value, 1) if value is not None else None
    return result


@router.get("/health")
async def health(request: Request, account: AnyRole, engine: EngineDep, knowledge: KnowledgeDep,
                 assistant: AssistantDep) -> HTMLResponse:
    ok = await anyio.to_thread.run_sync(reachable, engine)
    latency = await anyio.to_thread.run_sync(latency_percentiles, engine) if ok else {}
    understander = assistant.understander
    rasa = await anyio.to_thread.run_sync(understander.primary.ready) if understander.primary else None
    queue = queue_of(request.app)
    try:
        pending = await anyio.to_thread.run_sync(queue.pending_tasks)
    except Exception:  # Redis down: the page still shows the rest
        pending = None
    waiting = len(await anyio.to_thread.run_sync(handovers.queue, engine)) if ok else 0
    return render(request, "health.html", account=account, database=ok, knowledge=knowledge,
                  kb=knowledge.get() if knowledge.ready else None, understander=understander, rasa=rasa,
                  latency=latency, queue={"storage": queue.storage, "pending": pending}, open_handovers=waiting)
