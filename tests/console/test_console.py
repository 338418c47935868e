"""The console's access: accounts with argon2 hashes, sessions that expire, CSRF, roles, login throttling."""

import re
import threading
from datetime import timedelta
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.console import auth
from app.console.views import COOKIE, role
from app.storage.models import ConsoleSession, User, utcnow

PASSWORD = "correct horse battery"


@pytest.fixture
def operator(client) -> str:  # type: ignore[no-untyped-def]
    auth.add_user(client.app.state.engine, name="ana", password=PASSWORD, role="operator")
    return "ana"


def log_in(client, name: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    form = client.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
    return client.post("/console/login", data={"name": name, "password": password, "login_token": token},
                       follow_redirects=False)


def csrf_of(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/console/health")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_passwords_are_stored_as_argon2_hashes(client, operator) -> None:
    with client.app.state.engine.connect() as conn:
        stored = conn.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2") and PASSWORD not in stored


@pytest.mark.parametrize("password, reason", [("short", "10 characters")])
def test_weak_passwords_and_unknown_roles_are_refused(client, password: str, reason: str) -> None:
    with pytest.raises(auth.AuthError, match=reason):
        auth.add_user(client.app.state.engine, name="bob", password=password, role="editor")
    with pytest.raises(auth.AuthError, match="role"):
        auth.add_user(client.app.state.engine, name="bob", password=PASSWORD, role="king")


def test_anonymous_requests_are_refused(client) -> None:
    for path in ("/console", "/console/health"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/login"
    assert client.post("/console/logout", follow_redirects=False).status_code == 401


def test_login_then_health_then_logout(client, operator) -> None:
    response = log_in(client, operator)
    assert response.status_code == 303 and COOKIE in response.cookies
    page = client.get("/console/health", headers={"accept-language": "en"})
    assert page.status_code == 200
    kb = client.app.state.knowledge.get()
    assert kb.version in page.text and "embedded" in page.text and "ana (operator)" in page.text
    assert client.post("/console/logout", data={}, follow_redirects=False).status_code == 403  # no CSRF token
    out = client.post("/console/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/console/health", follow_redirects=False).status_code == 303


def test_console_speaks_spanish_and_english(client, operator) -> None:
    log_in(client, operator)
    assert "Base de datos" in client.get("/console/health", headers={"accept-language": "es-MX"}).text
    assert "Database" in client.get("/console/health?lang=en").text


def test_wrong_password_and_throttling(client, operator) -> None:
    for _ in range(client.app.state.settings.login_max_failures):
        assert log_in(client, operator, "wrong password!").status_code == 401
    assert log_in(client, operator).status_code == 429  # even the right password waits now
    assert log_in(client, "nobody", "whatever12345").status_code == 401


class CountingHasher:
    """The argon2 hasher, counting the passwords it verifies."""

    def __init__(self, hasher) -> None:  # type: ignore[no-untyped-def]
        self.hasher, self.verified, self.lock = hasher, 0, threading.Lock()

    def verify(self, hash: str, password: str) -> bool:
        with self.lock:
            self.verified += 1
        return self.hasher.verify(hash, password)

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)


def from_address(client, host: str) -> TestClient:  # type: ignore[no-untyped-def]
    """Another browser on the same app, at another address."""
    return TestClient(client.app, base_url=str(client.base_url), client=(host, 40000))


def test_parallel_wrong_passwords_are_checked_at_most_max_failures_times(client, operator, monkeypatch) -> None:
    engine, settings = client.app.state.engine, client.app.state.settings
    hasher = CountingHasher(auth._hasher)
    monkeypatch.setattr(auth, "_hasher", hasher)
    outcomes: list[str] = []
    start = threading.Barrier(16)

    def guess(n: int) -> None:
        start.wait()
        try:
            auth.log_in(engine, name=operator, password=f"wrong password {n}", client="203.0.113.7", hours=1,
                        max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds)
        except auth.LoginThrottled:
            outcomes.append("throttled")
        except auth.AuthError:
            outcomes.append("wrong")

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 16
    assert hasher.verified == outcomes.count("wrong") <= settings.login_max_failures
    assert outcomes.count("throttled") >= 16 - settings.login_max_failures
    assert log_in(from_address(client, "203.0.113.7"), operator).status_code == 429  # that address waits
    assert log_in(from_address(client, "198.51.100.2"), operator).status_code == 303  # the operator does not


def test_a_stranger_cannot_lock_an_operator_out(client, operator) -> None:
    stranger, office = from_address(client, "203.0.113.7"), from_address(client, "198.51.100.2")
    for _ in range(client.app.state.settings.login_max_failures):
        assert log_in(stranger, operator, "wrong password!").status_code == 401
    assert log_in(stranger, operator).status_code == 429
    assert log_in(office, operator).status_code == 303
    assert log_in(from_address(client, "2001:db8::1"), operator, "wrong password!").status_code == 401


def test_one_address_is_throttled_across_names(client, operator) -> None:
    settings = client.app.state.settings
    stranger = from_address(client, "2001:db8::1")
    for n in range(settings.login_max_failures * auth.NAMES_PER_CLIENT):
        assert log_in(stranger, f"name{n}", "wrong password!").status_code == 401
    assert log_in(stranger, operator).status_code == 429  # a name it never tried
    assert log_in(from_address(client, "2001:db8::2"), operator).status_code == 429  # the same /64
    assert log_in(from_address(client, "2001:db8:0:1::1"), operator).status_code == 303


def test_a_login_gives_its_attempts_back(client, operator) -> None:
    office = from_address(client, "198.51.100.2")
    for _ in range(3):
        for _ in range(client.app.state.settings.login_max_failures - 1):
            assert log_in(office, operator, "wrong password!").status_code == 401
        assert log_in(office, operator).status_code == 303  # a typo or four, then the right one


def test_login_form_needs_its_token(client, operator) -> None:
    client.get("/console/login")
    response = client.post("/console/login", data={"name": operator, "password": PASSWORD, "login_token": "forged"},
                           follow_redirects=False)
    assert response.status_code == 403


def test_sessions_expire(client, operator) -> None:
    log_in(client, operator)
    with client.app.state.engine.begin() as conn:
        conn.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert client.get("/console/health", follow_redirects=False).status_code == 303


def test_roles_are_enforced(client) -> None:
    engine = client.app.state.engine
    auth.add_user(engine, name="edi", password=PASSWORD, role="editor")
    token = auth.log_in(engine, name="edi", password=PASSWORD, client="192.0.2.1", hours=1, max_failures=5,
                        window_seconds=60)
    app = FastAPI()
    app.state = client.app.state

    only = Annotated[auth.Account, Depends(role("operator", "admin"))]

    @app.post("/only-operators")
    async def only_operators(account: only) -> dict:  # type: ignore[valid-type]
        return {"ok": account.name}

    with TestClient(app) as other:
        other.cookies.set(COOKIE, token)
        assert other.post("/only-operators").status_code == 403


def test_users_add_command(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'u.db'}"}
    binary = str(Path(sys.executable).parent / "migrantinfo")
    made = subprocess.run([binary, "users", "add", "maria", "--role", "editor"], input=PASSWORD + "\n",
                          capture_output=True, text=True, env=env, timeout=60)
    assert made.returncode == 0 and "added maria (editor)" in made.stdout
    again = subprocess.run([binary, "users", "add", "maria", "--role", "admin"], input=PASSWORD + "\n",
                           capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 1 and "exists already" in again.stderr


def console_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every console route but the login form itself, as (method, path); the anonymous test shows each is served."""
    from app.console import content_pages, insights, simulator, views

    routes = []
    for module in (views, simulator, content_pages, insights):
        for route in module.router.routes:
            if route.path != "/console/login":
                routes += [(method, route.path) for method in sorted(route.methods - {"HEAD"})]
    return routes


def test_every_console_route_refuses_anonymous_requests(client) -> None:
    routes = console_routes(client.app)
    assert len(routes) >= 8
    for method, path in routes:
        response = client.request(method, path, follow_redirects=False)
        if method == "GET":
            assert response.status_code == 303 and response.headers["location"] == "/console/login", path
        else:
            assert response.status_code == 401, (method, path)
        assert "csrf" not in response.text.lower() or method != "GET"


def test_every_console_post_needs_the_csrf_token(client, operator) -> None:
    log_in(client, operator)
    for method, path in console_routes(client.app):
        if method == "POST":
            assert client.post(path, data={}, follow_redirects=False).status_code == 403, path
            assert client.post(path, data={"csrf_token": "forged"}, follow_redirects=False).status_code == 403, path


def test_editors_cannot_reload_content(client) -> None:
    auth.add_user(client.app.state.engine, name="edith", password=PASSWORD, role="editor")
    log_in(client, "edith")
    token = csrf_of(client)
    assert client.post("/console/content/reload", data={"csrf_token": token}, follow_redirects=False).status_code == 403


def assert_secured(response, *, https: bool = True) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy, response.url
    script = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "unsafe-inline" not in script and "unsafe-eval" not in script
    assert headers.get("x-content-type-options") == "nosniff", response.url
    assert headers.get("referrer-policy") in ("same-origin", "no-referrer"), response.url
    assert headers.get("cache-control") == "no-store", response.url
    assert ("strict-transport-security" in headers) == https, response.url


def test_every_console_answer_carries_the_security_headers(client, operator) -> None:
    login_page = client.get("/console/login")
    assert_secured(login_page)
    assert "secure" in login_page.headers["set-cookie"].lower()  # the login form's cookie
    assert_secured(client.get("/console/health", follow_redirects=False))  # the redirect to the login
    assert_secured(client.post("/console/logout", follow_redirects=False))  # 401
    response = log_in(client, operator)
    assert_secured(response)
    session_cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE))
    assert "secure" in session_cookie.lower() and "httponly" in session_cookie.lower()
    for path in ("/console", "/console/health", "/console/simulator", "/console/simulator.js", "/console/content",
                 "/console/insights", "/console/insights.csv", "/console/handovers", "/console/alerts"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (200, 303), path
        assert_secured(response)
    assert_secured(client.post("/console/simulator/send", json={}, headers={"x-csrf-token": csrf_of(client)}))  # 422
    assert_secured(client.post("/console/content/reload", data={}))  # 403: no CSRF token
    missing = client.get("/console/no-such-page")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    assert_secured(missing)  # a path no route knows
    assert "content-security-policy" not in client.get("/no-such-page").headers  # outside the console: as before
    page = client.get("/console/simulator").text
    assert re.findall(r"<script[^>]*>", page) == ['<script type="application/json" id="simulator-texts">',
                                                  '<script src="/console/simulator.js">']  # nothing inline runs
    assert client.get("/console/simulator.js").headers["content-type"].startswith("text/javascript")


def test_no_strict_transport_security_nor_secure_cookies_over_plain_http(database_url: str) -> None:
    from app.main import create_app
    from tests.conftest import make_settings

    settings = make_settings(database_url, public_base_url="http://127.0.0.1:8000")
    with TestClient(create_app(settings), base_url="http://testserver") as plain:
        auth.add_user(plain.app.state.engine, name="ana", password=PASSWORD, role="operator")
        login_page = plain.get("/console/login")
        assert_secured(login_page, https=False)
        assert "secure" not in login_page.headers["set-cookie"].lower()
        response = log_in(plain, "ana")
        assert response.status_code == 303 and "secure" not in response.headers["set-cookie"].lower()
        assert_secured(plain.get("/console/health"), https=False)
