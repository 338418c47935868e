"""Messages we start (alerts, operators' replies), sent through Twilio's Messages REST API."""

import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from app.config import Settings

if TYPE_CHECKING:  # Twilio's client (and requests) load with the first message sent: most webhooks send none
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

log = logging.getLogger(__name__)
TWILIO_API = "https://api.twilio.com"
CONTENT_API = "https://content.twilio.com/v1/Content"
TWILIO_HOSTS = re.compile(r"^https://[a-z]+\.twilio\.com")
OPTED_OUT, OUTSIDE_WINDOW = 21610, 63016  # the permanent failures an alert must record, not retry


class SendError(Exception):
    """Twilio did not take the message. `retryable` errors are tried again later, with back-off."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 retryable: bool = False, retry_after: float | None = None, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.retryable = status, code, retryable
        self.retry_after = retry_after
        self.ambiguous = ambiguous  # the request may have reached Twilio: look before sending again


@dataclass(frozen=True)
class Sent:
    sid: str
    status: str


@cache
def _http_client_class() -> type:
    from twilio.http.http_client import TwilioHttpClient

    class HttpClient(TwilioHttpClient):
        """Twilio's own HTTP client, sent to another base URL (the tests' loopback server) when configured."""

        def __init__(self, base_url: str, timeout: float) -> None:
            super().__init__(pool_connections=True, timeout=timeout)
            self.base_url = base_url.rstrip("/")

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if self.base_url != TWILIO_API:  # every Twilio API (Messages, Content) answers at the one loopback
                url = TWILIO_HOSTS.sub(self.base_url, url, count=1)
            return super().request(method, url, *args, **kwargs)

    return HttpClient


def _errors() -> "tuple[type[TwilioRestException], type[Exception]]":
    """Twilio's refusal and a failed connection."""
    from requests import RequestException
    from twilio.base.exceptions import TwilioRestException

    return TwilioRestException, RequestException


class Twilio:
    """A thread-safe sender: one Twilio client (and connection pool) per thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.status_callback = settings.public_base_url.rstrip("/") + "/webhooks/twilio/status"
        self._local = threading.local()

    @property
    def configured(self) -> bool:
        return bool(self.settings.twilio_account_sid and self.settings.twilio_auth_token)

    def prepare(self) -> None:
        """Build this thread's client now, so that nothing slow stands between a rate slot and its request."""
        self._client()

    def _client(self) -> "Client":
        client = getattr(self._local, "client", None)
        if client is None:
            if not self.configured:
                raise SendError("set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to send messages")
            from twilio.rest import Client

            s = self.settings
            http = _http_client_class()(s.twilio_api_base_url, s.twilio_timeout_seconds)
            client = self._local.client = Client(s.twilio_account_sid, s.twilio_auth_token, http_client=http)
        return client

    def send(self, *, to: str, from_: str, body: str | None = None, content_sid: str | None = None,
             variables: dict[str, str] | None = None) -> Sent:
        """Create one message; raises SendError with what to do about a failure."""
        values: dict[str, object] = {"to": to, "from_": from_, "status_callback": self.status_callback}
        if content_sid:
            values.update(content_sid=content_sid, content_variables=json.dumps(variables or {}, ensure_ascii=False))
        else:
            values["body"] = body
        client = self._client()
        refused, unreachable = _errors()
        try:
            message = client.messages.create(**values)
        except refused as exc:
            retry_after = None
            if exc.status == 429:
                last = client.http_client.last_response
                retry_after = _seconds(last.headers.get("Retry-After") if last is not None and last.headers else None)
            raise SendError(f"Twilio answered {exc.status}: {exc.msg}", status=exc.status, code=exc.code,
                            retryable=exc.status == 429 or exc.status >= 500, retry_after=retry_after) from None
        except unreachable as exc:
            raise SendError(f"no answer from Twilio: {type(exc).__name__}", retryable=True, ambiguous=True) from None
        return Sent(sid=str(message.sid), status=str(message.status or "queued"))

    def create_content(self, definition: dict) -> str:
        """Create a Content template (Content API, JSON); its ContentSid."""
        client = self._client()
        _, unreachable = _errors()
        try:
            response = client.http_client.request(
                "POST", CONTENT_API, data=definition,  # sent as JSON, as its Content-Type says
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                auth=(self.settings.twilio_account_sid, self.settings.twilio_auth_token))
        except unreachable as exc:
            raise SendError(f"no answer from Twilio: {type(exc).__name__}", retryable=True) from None
        if response.status_code not in (200, 201):
            raise SendError(f"Twilio answered {response.status_code}: {response.text[:200]}",
                            status=response.status_code)
        return str(json.loads(response.text)["sid"])

    def find_sent(self, *, to: str, from_: str, since: datetime, text: str) -> str | None:
        """The sid of a message holding `text` created to `to` since `since` (after a worker died mid-send).

        The text tells it from the bot's own replies to the same person in that time; a template's body is the
        template with the text in it.
        """
        client = self._client()
        try:
            found = client.messages.list(to=to, from_=from_, date_sent_after=since - timedelta(seconds=5), limit=50)
        except _errors() as exc:
            raise SendError(f"could not list messages: {exc}", retryable=True, ambiguous=True) from None
        return next((str(m.sid) for m in found if text.strip() in (m.body or "")), None)


def sender_for(channel: str, known: str, settings: Settings) -> str:
    """Our number to write from: the one the person wrote to, else the configured sender of the channel."""
    sender = known or (settings.twilio_whatsapp_from if channel == "whatsapp" else settings.twilio_sms_from)
    if channel == "whatsapp" and sender and not sender.startswith("whatsapp:"):
        sender = "whatsapp:" + sender
    return sender


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
