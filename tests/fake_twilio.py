"""A loopback HTTP server that answers as Twilio's Messages API does, and records what it was sent.

201 with a sid; 429 with Retry-After past the sender's rate or when told to; 400 with code 21610 for opted-out
numbers and 63016 for free text (or a session-only quick-reply template) to WhatsApp numbers outside the 24-hour
window; 500 when told to. GET lists the messages it took, filtered by To, From and DateSent>, as Twilio's list
endpoint does. POST /v1/Content creates a template (the Content API, JSON), as content.twilio.com does.
"""

import base64
import json
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

ACCOUNT = "AC" + "0" * 32
TOKEN = "test-auth-token-0123456789"
PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w{32})/Messages\.json$")
CONTENT = "/v1/Content"  # the Content API (content.twilio.com): templates, created with a JSON body


class FakeTwilio:
    def __init__(self, *, mps: dict[str, int] | None = None, latency: float = 0.0) -> None:
        self.mps = mps or {}  # sender -> messages per second it accepts; more gets 429
        self.latency = latency
        self.opted_out: set[str] = set()
        self.in_window: set[str] = set()  # WhatsApp addresses that wrote within 24 hours
        self.script: deque[tuple[int, dict]] = deque()  # forced answers: (status, extra), consumed in order
        self.accepted: list[dict] = []
        self.templates: dict[str, dict] = {}  # ContentSid -> the definition it was created with
        self.requests: list[dict] = []
        self.rate_violations = 0
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeTwilio":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, **extra: object) -> None:
        self.script.append((status, extra))

    def to(self, address: str) -> list[dict]:
        with self._lock:
            return [m for m in self.accepted if m["To"] == address]

    # --- the API ---

    def _take(self, form: dict[str, str], now: float) -> tuple[int, dict, dict[str, str]]:
        sender, to = form.get("From", ""), form.get("To", "")
        with self._lock:
            self.requests.append({**form, "at": now})
            if self.script:
                status, extra = self.script.popleft()
                headers = {"Retry-After": str(extra.pop("retry_after"))} if "retry_after" in extra else {}
                return status, _error(status, extra.get("code", 20500 if status >= 500 else 20429),
                                      extra.get("message", "forced by the test")), headers
            if not to or not sender or not (form.get("Body") or form.get("ContentSid")):
                return 400, _error(400, 21602, "Message body is required."), {}
            limit = self.mps.get(sender)
            if limit:
                recent = self._recent[sender]
                while recent and recent[0] <= now - 1.0:
                    recent.popleft()
                if len(recent) >= limit:
                    self.rate_violations += 1
                    return 429, _error(429, 20429, "Too Many Requests"), {"Retry-After": "1"}
                recent.append(now)
            if to.split(":")[-1] in self.opted_out:
                return 400, _error(400, 21610, "Attempt to send to unsubscribed recipient"), {}
            template = self.templates.get(form.get("ContentSid", ""), {})
            session_only = "twilio/quick-reply" in template.get("types", {})  # buttons need no approval, but the window
            if to.startswith("whatsapp:") and (session_only or not form.get("ContentSid")) and to not in self.in_window:
                return 400, _error(400, 63016, "Failed to send freeform message because you are outside the "
                                               "allowed window. Please use a Template."), {}
            sid = "SM" + uuid.uuid4().hex
            created = datetime.now(UTC)
            message = {"sid": sid, "account_sid": ACCOUNT, "to": to, "from": sender, "body": form.get("Body", ""),
                       "status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
                       "date_created": format_datetime(created, usegmt=True), "date_updated": None,
                       "date_sent": None, "num_segments": "1", "num_media": "0", "error_code": None,
                       "error_message": None, "price": None, "price_unit": "USD", "messaging_service_sid": None,
                       "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json", "subresource_uris": {}}
            self.accepted.append({**form, "sid": sid, "at": now, "created": created})
            return 201, message, {}

    def _create_content(self, raw: bytes) -> tuple[int, dict]:
        try:
            definition = json.loads(raw)
        except ValueError:
            return 400, _error(400, 20001, "Invalid JSON")
        if not definition.get("friendly_name") or not definition.get("types"):
            return 400, _error(400, 20001, "friendly_name and types are required")
        actions = definition["types"].get("twilio/quick-reply", {}).get("actions", [])
        if len(actions) > 3 or any(len(a.get("title", "")) > 20 for a in actions):
            return 400, _error(400, 20001, "quick-reply: at most 3 actions, titles of at most 20 characters")
        sid = "HX" + uuid.uuid4().hex
        with self._lock:
            self.templates[sid] = definition
        return 201, {"sid": sid, "account_sid": ACCOUNT, **definition}

    def _list(self, query: dict[str, str]) -> dict:
        since = query.get("DateSent>")
        after = datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if since else None
        with self._lock:
            found = [m for m in self.accepted
                     if (not query.get("To") or m["To"] == query["To"])
                     and (not query.get("From") or m["From"] == query["From"])
                     and (after is None or m["created"] >= after)]
        messages = [{"sid": m["sid"], "to": m["To"], "from": m["From"], "body": _body(m),
                     "status": "queued", "account_sid": ACCOUNT} for m in reversed(found)]
        return {"messages": messages, "page": 0, "page_size": 50, "start": 0, "end": max(0, len(messages) - 1),
                "first_page_uri": "", "next_page_uri": None, "previous_page_uri": None, "uri": ""}

    def _handler(self):  # type: ignore[no-untyped-def]
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def _authorized(self) -> bool:
                expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
                return self.headers.get("Authorization") == expected

            def _answer(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:  # noqa: N802
                arrived = time.time()  # before the body is read and the simulated latency: what Twilio would count
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:  # the sender died mid-request (a killed worker): Twilio takes nothing
                    self.close_connection = True
                    return
                if urlparse(self.path).path == CONTENT:
                    if not self._authorized():
                        return self._answer(401, _error(401, 20003, "Authenticate"))
                    return self._answer(*fake._create_content(raw))
                form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
                if not PATH.match(urlparse(self.path).path):
                    return self._answer(404, _error(404, 20404, "The requested resource was not found"))
                if not self._authorized():
                    return self._answer(401, _error(401, 20003, "Authenticate"))
                if fake.latency:
                    time.sleep(fake.latency)
                status, body, headers = fake._take(form, arrived)
                self._answer(status, body, headers)

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                if not PATH.match(url.path):
                    return self._answer(404, _error(404, 20404, "The requested resource was not found"))
                if not self._authorized():
                    return self._answer(401, _error(401, 20003, "Authenticate"))
                self._answer(200, fake._list(dict(parse_qsl(url.query))))

        return Handler


def _body(message: dict) -> str:
    """What Twilio shows as a message's body: the text, or the template rendered with its variables."""
    if message.get("ContentSid"):
        return "Template {}: {}".format(message["ContentSid"], json.loads(message.get("ContentVariables") or "{}").get("1", ""))
    return message.get("Body", "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        """A client killed mid-request (a worker the test kills) is expected: nothing to print."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error(status: int, code: int, message: str) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def max_in_window(times: list[float], window: float) -> int:
    """The most messages found in any window of `window` seconds."""
    return busiest_window(times, window)[0]


def busiest_window(times: list[float], window: float) -> tuple[int, float]:
    """The most messages in any window of `window` seconds, and when that window starts."""
    times, best, at, start = sorted(times), 0, 0.0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        if end - start + 1 > best:
            best, at = end - start + 1, times[start]
    return best, at
