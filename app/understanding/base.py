"""The contract every engine keeps: text in, an Understanding out (or None when it cannot answer)."""

from typing import Protocol

from app.messages import Understanding


class Engine(Protocol):
    name: str

    def understand(self, text: str, *, sender: str, channel: str, language: str,
                   country: str | None) -> Understanding | None:
        """What a message asks for; None when the engine is unavailable."""
        ...  # pragma: no cover
