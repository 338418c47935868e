"""Neutral messages: what the channel layer hands to the dialogue and what the dialogue hands back."""

from dataclasses import dataclass, field

# A title's neutral markup; the channel's rendering shows it (bold on WhatsApp, plain on SMS). Shift out and
# shift in: control characters no person's message, catalog or content file contains.
TITLE_START, TITLE_END = "\x0e", "\x0f"


def title(text: str) -> str:
    """Mark a text as a title: the dialogue says it is one, each channel decides how it looks."""
    return f"{TITLE_START}{text}{TITLE_END}"


@dataclass(frozen=True)
class Inbound:
    """One message from a person, whatever channel it came through."""

    sid: str
    channel: str  # "sms", "whatsapp" or "web"
    address: str  # as the channel gave it; hashed before anything is stored
    text: str = ""
    media_types: tuple[str, ...] = ()
    location: tuple[float, float] | None = None
    choice: str | None = None  # a WhatsApp button payload or list item id
    carrier_keyword: str | None = None  # Twilio's OptOutType: it already answered STOP/START/HELP
    test: bool = False
    to: str = ""  # our number the person wrote to: alerts and operators' replies leave from it

    @property
    def reachable(self) -> bool:
        """A real number on a Twilio channel, that alerts and operators can write to (not the simulator, not web)."""
        return not self.test and self.channel in ("sms", "whatsapp")


@dataclass
class Understanding:
    """What the assistant understood of a message, and by which engine."""

    intent: str
    language: str
    topic: str | None = None
    country: str | None = None
    confidence: float = 1.0
    engine: str = "keywords"
    answered: bool = True
    entry: str | None = None  # the specific entry the message asks about, when one matched well enough
    entry_confidence: float | None = None  # calibrated: how often a match like this is the right entry
    choices: tuple[str, ...] = ()  # close entries to offer when none is clear enough
    useful: bool | None = None  # the person's answer to "was it useful?" about `entry`


@dataclass
class Reply:
    """What to say: one text per channel family (SMS texts may be cut into pages when rendered)."""

    understanding: Understanding
    whatsapp: list[str] = field(default_factory=list)
    sms: list[str] = field(default_factory=list)
    silent: bool = False
    danger: bool = False  # the person may be in danger: emergency numbers first, and a person is told

    def say(self, text: str, *, sms: str | None = None) -> None:
        self.whatsapp.append(text)
        self.sms.append(sms if sms is not None else text)
