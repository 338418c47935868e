"""The Rasa engine: every message goes to a Rasa 3.6 server through its REST channel."""

import logging
from collections.abc import Callable

import httpx

from app.knowledge.schema import TOPIC_IDS
from app.messages import Understanding

log = logging.getLogger(__name__)


class RasaEngine:
    """Talks to `rasa run` on its REST channel; the custom action (served by this app) reports the understanding."""

    name = "rasa"

    def __init__(self, url: str, *, timeout: float) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)))

    def understand(self, text: str, *, sender: str, channel: str, language: str,
                   country: str | None) -> Understanding | None:
        """None when Rasa is unreachable, slow or answers nothing usable."""
        payload = {"sender": sender, "message": text,
                   "metadata": {"channel": channel, "country": country, "language": language}}
        try:
            response = self._client.post(f"{self.url}/webhooks/rest/webhook", json=payload)
            response.raise_for_status()
            messages = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("rasa unavailable (%s): %s", type(exc).__name__, exc)
            return None
        for message in messages if isinstance(messages, list) else []:
            found = (message.get("custom") or {}).get("understanding") if isinstance(message, dict) else None
            if isinstance(found, dict) and found.get("intent"):
                return Understanding(
                    intent=str(found["intent"]), language=str(found.get("language") or language),
                    topic=found.get("topic"), country=found.get("country") or country,
                    confidence=float(found.get("confidence") or 0.0), engine=self.name,
                    answered=found.get("intent") != "out_of_scope",
                )
        log.warning("rasa answered without an understanding for sender=%s", sender[:12])
        return None

    def parse(self, text: str, *, language: str, country_of: Callable[[str], str | None]) -> Understanding | None:
        """NLU only, through the HTTP API (`/model/parse`): what `migrantinfo eval` measures."""
        try:
            response = self._client.post(f"{self.url}/model/parse", json={"text": text})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        intent = (data.get("intent") or {}).get("name") or "out_of_scope"
        if intent == "nlu_fallback":
            intent = "out_of_scope"
        countries = [country_of(e.get("value", "")) for e in data.get("entities", []) if e.get("entity") == "country"]
        return Understanding(intent=intent, language=language, topic=intent if intent in TOPIC_IDS else None,
                             country=next((c for c in countries if c), None),
                             confidence=float((data.get("intent") or {}).get("confidence") or 0.0),
                             engine=self.name, answered=intent != "out_of_scope")

    def ready(self) -> bool:
        try:
            return self._client.get(f"{self.url}/version", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._client.close()
