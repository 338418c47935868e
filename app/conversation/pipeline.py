"""The path of one message: claim → contact → keywords → dialogue → render → store."""

import logging
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from time import perf_counter

import anyio
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.channels.render import sms_pages, whatsapp_parts
from app.config import Settings
from app.conversation import commands, keywords
from app.conversation.contacts import defaults_for
from app.conversation.dialogue import Conversation, Dialogue
from app.conversation.inbox import Inbox
from app.crypto import box_for
from app.i18n import Texts
from app.knowledge.live import LiveKnowledge
from app.messages import Inbound, Reply, Understanding
from app.metrics import Metrics
from app.privacy import hash_address, mask_text
from app.storage import store
from app.storage.models import utcnow
from app.understanding.router import build_understander

log = logging.getLogger(__name__)


class _Release:
    """Releases a lock already acquired, on leaving the block."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        self._lock.release()


@dataclass
class Outcome:
    """What to send back for one inbound message."""

    bodies: list[str]
    understanding: Understanding | None = None
    duplicate: bool = False
    failed: bool = False  # not answered: the journal still owes it (the person got an apology, if anything)
    transient: bool = False  # it failed because the database was locked or away: trying again later may work


class Ticket:
    """One webhook's claim on a message: abandoned once its reply budget ran out and an apology left instead."""

    def __init__(self) -> None:
        self.started = False  # a thread picked it up (one waiting for its turn may never run)
        self.abandoned = False


class Abandoned(Exception):
    """The webhook stopped waiting: storing this reply would record an answer the person never got."""


async def answer(assistant: "Assistant", msg: Inbound, *, budget: float) -> Outcome:
    """Handle a message within the reply budget; past it, a short apology leaves and the message waits for a replay.

    The message is in the journal before anything else is done with it, and the work runs in a thread, so neither
    a locked database nor a hanging engine holds the event loop or loses the message.
    """
    ticket = Ticket()
    assistant.inbox.received(msg)
    with anyio.move_on_after(budget):
        return await anyio.to_thread.run_sync(partial(assistant.handle, msg, ticket=ticket), abandon_on_cancel=True,
                                              limiter=assistant.limiter)
    ticket.abandoned = True
    if not ticket.started:  # cancelled while it waited for a thread: nobody will let go of it but us
        assistant.inbox.released(msg.sid)
    log.error("reply budget of %ss exceeded sid=%s: an apology now, the answer later", budget, msg.sid)
    assistant.metrics.failures.inc()
    return Outcome([assistant.apology(msg)], failed=True)


class Assistant:
    """Handles inbound messages from any channel; one instance per process."""

    def __init__(self, settings: Settings, engine: Engine, knowledge: LiveKnowledge) -> None:
        self.settings = settings
        self.engine = engine
        self.knowledge = knowledge
        # SQLite has one writer at a time: queue them here instead of in SQLite's busy back-off.
        self._writer = threading.Lock() if engine.dialect.name == "sqlite" else None
        self.limiter: anyio.CapacityLimiter | None = None  # set by the web app (it needs the event loop)
        self.metrics = Metrics()
        self.understander = build_understander(settings, knowledge)
        self.understander.metrics = self.metrics
        self.dialogue = Dialogue(knowledge.get, self.understander, locales_dir=settings.locales_dir)
        self.box = box_for(settings.address_keys, settings.hash_secret)
        self.inbox = Inbox(settings.inbox_dir, self.box)

    def sender_id(self, address: str, *, test: bool = False) -> str:
        """The contact's key; the simulator's numbers are hashed with their own key, so never a real person's."""
        return hash_address(address, secret=("simulator:" if test else "") + self.settings.hash_secret)

    def handle(self, msg: Inbound, *, ticket: Ticket | None = None, late: bool = False) -> Outcome:
        """Answer a message once, however often it is delivered; never raise.

        A late message (a replay of what the journal owes) is stored as "late": its reply still has to be sent.
        """
        started = perf_counter()
        address_hash = self.sender_id(msg.address, test=msg.test)
        sender = address_hash[:12]
        if ticket is not None:
            ticket.started = True
        try:
            if ticket is not None and ticket.abandoned:
                raise Abandoned  # its budget ran out while it waited for its turn
            understood = self._ask_remote_engine(msg, address_hash)  # before any lock: Rasa may hang
            with self._write_lock(), self.engine.begin() as conn:
                store.claim(conn, sid=msg.sid, channel=msg.channel, test=msg.test)
                outcome = self._process(conn, msg, address_hash, started, understood, late=late)
                if ticket is not None and ticket.abandoned:
                    raise Abandoned
        except store.Duplicate:
            self.metrics.duplicates.inc()
            if late:  # the replay looks at what is stored itself
                return Outcome([], duplicate=True)
            bodies = store.stored_reply(self.engine, sid=msg.sid, wait=self.settings.duplicate_wait_seconds)
            log.info("duplicate delivery sid=%s sender=%s", msg.sid, sender)
            return Outcome(bodies or [], duplicate=True)
        except Abandoned:
            log.warning("reply budget exceeded sid=%s sender=%s: rolled back, answered later", msg.sid, sender)
            return Outcome([], failed=True)
        except (OperationalError, PoolTimeout, TimeoutError) as exc:
            # The database is locked or away: everything was rolled back; the journal keeps the message.
            log.error("database unavailable sid=%s sender=%s: %s", msg.sid, sender, type(exc).__name__)
            self.metrics.failures.inc()
            return Outcome([self.apology(msg)], failed=True, transient=True)
        except Exception:
            # Everything of this message was rolled back; the journal keeps it, and a replay answers it later.
            log.exception("failed to answer sid=%s sender=%s", msg.sid, sender)
            self.metrics.failures.inc()
            return Outcome([self.apology(msg)], failed=True)
        finally:
            self.inbox.released(msg.sid)
        if not late:
            self.inbox.answered(msg.sid)
        self.metrics.inbound.labels(msg.channel).inc()
        self.metrics.outbound.labels(msg.channel).inc(len(outcome.bodies))
        self.metrics.webhook_latency.labels(msg.channel).observe(perf_counter() - started)
        log.info("answered sid=%s sender=%s intent=%s ms=%.1f", msg.sid, sender,
                 outcome.understanding.intent if outcome.understanding else "-", (perf_counter() - started) * 1000)
        return outcome

    def _write_lock(self) -> AbstractContextManager:
        """SQLite's single writer, waited for no longer than a statement may wait."""
        if self._writer is None:
            return nullcontext()
        if not self._writer.acquire(timeout=self.settings.db_timeout_seconds):
            raise TimeoutError("the database writer is busy")
        return _Release(self._writer)

    def _ask_remote_engine(self, msg: Inbound, address_hash: str) -> Understanding | None:
        """Rasa's reading of free text, asked outside any transaction: no database lock waits on the network."""
        if not self.understander.remote or not msg.text or keywords.match(msg.text) \
                or keywords.alert_command(msg.text) is not None:
            return None
        with self.engine.connect().execution_options(read_only=True) as conn:
            contact = store.peek_contact(conn, address_hash=address_hash)
        if contact is None:
            language, country = defaults_for(msg.address, default_language=self.settings.default_language)
            contact = (language, country, {})
        convo = Conversation(language=contact[0] or self.settings.default_language, country=contact[1],
                             state=contact[2], sender=address_hash)
        if not self.dialogue.needs_engine(msg, convo):
            return None
        return self.understander.understand(msg.text, sender=address_hash, channel=msg.channel,
                                            language=convo.language, country=convo.country)

    def apology(self, msg: Inbound) -> str:
        """A short localized apology that needs nothing but the settings and the catalogs."""
        language, _ = defaults_for(msg.address, default_language=self.settings.default_language)
        texts = Texts(language, self.settings.locales_dir)
        return texts.gettext("Sorry, something went wrong on our side. Please try again, or write MENU.")

    def _process(self, conn: Connection, msg: Inbound, address_hash: str, started: float,
                 understood: Understanding | None, *, late: bool) -> Outcome:
        contact = store.contact_for(conn, address_hash=address_hash, channel=msg.channel,
                                    defaults=lambda: defaults_for(msg.address,
                                                                  default_language=self.settings.default_language))
        convo = Conversation(language=contact.language or self.settings.default_language, country=contact.country,
                             state=contact.state, first_contact=contact.last_inbound_at is None,
                             sender=contact.address_hash, understood=understood)
        contact.last_inbound_at = utcnow()
        reply = self._decide(conn, msg, contact, convo)
        erased = reply.understanding.intent == "erase_done"
        bodies = [] if reply.silent else self.render(reply, msg.channel, convo)
        if not erased:
            contact.language, contact.country, contact.state = convo.language, convo.country, convo.state
            store.save_contact(conn, contact, channel=msg.channel)
            store.log_outbound(conn, contact_id=contact.id, channel=msg.channel, bodies=bodies,
                               language=convo.language, test=msg.test)
        u = reply.understanding
        keep_text = not erased and not contact.opted_out and msg.text
        store.finish(conn, sid=msg.sid, bodies=bodies, status="late" if late else "done", values=dict(
            contact_id=None if erased else contact.id,
            text=mask_text(msg.text) if keep_text else None,
            intent=u.intent, topic=u.topic, country=u.country, language=u.language, confidence=u.confidence,
            engine=u.engine, answered=u.answered, latency_ms=(perf_counter() - started) * 1000, entry=u.entry,
            useful=u.useful,
        ))
        return Outcome(bodies, u)

    def _decide(self, conn: Connection, msg: Inbound, contact: store.ContactRow, convo: Conversation) -> Reply:
        """Keywords first (opt-out, flood guard, erase, more, language, help: commands.COMMANDS), then the dialogue."""
        keyword = keywords.match(msg.text) if msg.text else None
        reply = Reply(Understanding(intent=keyword.kind if keyword else "message", language=convo.language,
                                    country=convo.country))
        return commands.decide(commands.Turn(self, conn, msg, contact, convo, keyword, reply,
                                             Texts(convo.language, self.settings.locales_dir), utcnow()))

    def render(self, reply: Reply, channel: str, convo: Conversation) -> list[str]:
        """How to say it: SMS pages of at most N segments (the rest on MORE), WhatsApp parts at paragraphs."""
        paged = convo.state.pop("paged", False)
        if channel != "sms":
            convo.state.pop("pages", None)
            return whatsapp_parts(reply.whatsapp, settings=self.settings)
        if paged:  # a page already cut and converted
            return reply.sms
        pages = sms_pages(reply.sms, language=convo.language, settings=self.settings)
        if len(pages) > 1:
            convo.state["pages"] = pages[1:]
        else:
            convo.state.pop("pages", None)
        return pages[:1]
