"""The keyword commands, in their order of precedence: each one answers a message or lets it go on.

The pipeline walks COMMANDS top to bottom; the first that returns a reply decides. A command may also change
the turn and return None (START lifts an opt-out, a language keyword switches the language), so the order is
part of the behaviour: STOP before everything, the flood guard before anything costs a reply, an open hand-over
before the bot's own commands.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from app.conversation import keywords
from app.conversation.dialogue import Conversation
from app.i18n import Texts
from app.messages import Inbound, Reply, Understanding
from app.outbound import alerts, handovers
from app.storage import store
from app.understanding.danger import in_danger

if TYPE_CHECKING:
    from app.conversation.pipeline import Assistant

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """One message being decided: what every command may read and change."""

    assistant: "Assistant"
    conn: Connection
    msg: Inbound
    contact: store.ContactRow
    convo: Conversation
    keyword: keywords.Keyword | None
    reply: Reply  # what the commands said so far, put before the dialogue's answer
    texts: Texts
    now: datetime

    @property
    def kind(self) -> str | None:
        return self.keyword.kind if self.keyword else None


def opt_out(turn: Turn) -> Reply | None:
    """STOP ends everything: alerts and hand-overs too."""
    if turn.kind != "opt_out":
        return None
    contact, reply = turn.contact, turn.reply
    turn.assistant.metrics.opt_outs.inc()
    contact.opted_out, contact.opted_out_at, turn.convo.state = True, turn.now, {}
    alerts.unsubscribe(turn.conn, contact_id=contact.id)
    handovers.close_all(turn.conn, contact_id=contact.id, by="STOP")
    reply.silent = turn.msg.carrier_keyword == "STOP"  # Twilio already confirmed it on SMS
    reply.say(turn.texts.gettext("You will not receive more messages. To start again, write START."))
    return reply


def opted_out(turn: Turn) -> Reply | None:
    """Someone who wrote STOP hears nothing until START, which starts over as a first contact."""
    if not turn.contact.opted_out:
        return None
    if turn.kind != "opt_in":
        turn.reply.understanding.intent, turn.reply.silent = "opted_out", True
        return turn.reply
    turn.contact.opted_out, turn.contact.opted_out_at = False, None
    turn.convo.first_contact = True
    return None


def flood(turn: Turn) -> Reply | None:
    """An auto-responder looping with the bot is silenced for a while."""
    contact, settings, reply = turn.contact, turn.assistant.settings, turn.reply
    if contact.silenced_until and contact.silenced_until > turn.now:
        reply.understanding.intent, reply.silent = "flood", True
        return reply
    if store.count_reply(contact, now=turn.now, window_seconds=settings.flood_window_seconds) \
            <= settings.flood_max_replies:
        return None
    contact.silenced_until = turn.now + timedelta(seconds=settings.flood_silence_seconds)
    contact.window_started_at, contact.window_replies = None, 0
    log.warning("flood: silencing sender=%s for %ss", contact.address_hash[:12], settings.flood_silence_seconds)
    reply.understanding.intent, reply.silent = "flood", True
    return reply


def erase_confirmation(turn: Turn) -> Reply | None:
    """YES after DELETE erases the contact; any other reply cancels, and is answered as usual."""
    if not turn.convo.state.pop("erase_pending", False):
        return None
    if not keywords.is_affirmation(turn.msg.text):
        turn.reply.say(turn.texts.gettext("Nothing was deleted."))
        return None
    store.erase_contact(turn.conn, contact_id=turn.contact.id)
    turn.assistant.metrics.erasures.inc()
    log.info("erased sender=%s", turn.contact.address_hash[:12])
    turn.reply.understanding.intent = "erase_done"
    turn.reply.say(turn.texts.gettext("Done: everything we stored about you has been deleted."))
    return turn.reply


def open_handover(turn: Turn) -> Reply | None:
    """A person of the office has the conversation: the bot keeps quiet, but never about danger."""
    paging = turn.kind == "more" and bool(turn.convo.state.get("pages"))  # the rest of an answer already given
    if turn.kind == "erase" or paging:
        return None
    if turn.contact.open_handover is None:  # read with the contact
        return None
    danger = bool(turn.msg.text) and in_danger(turn.msg.text)
    handovers.touch(turn.conn, turn.contact.open_handover, danger=danger)
    if danger:  # the emergency numbers go out at once
        return turn.assistant.dialogue.respond(turn.msg, turn.convo)
    turn.reply.understanding.intent, turn.reply.silent = "handover", True
    return turn.reply


def alert_command(turn: Turn) -> Reply | None:
    """ALERTS [country] subscribes (to the current country by default); ALERTS OFF unsubscribes."""
    command = keywords.alert_command(turn.msg.text) if turn.msg.text and not turn.keyword else None
    if command is None:
        return None
    convo, settings = turn.convo, turn.assistant.settings
    kb = turn.assistant.knowledge.get()
    if convo.first_contact:  # a first message in another language than the number's country speaks
        convo.language = command.language
    texts = Texts(convo.language, settings.locales_dir)
    country = (kb.country_in_text(command.rest) or kb.country_for_word(command.rest)) if command.rest else None
    reply = Reply(Understanding(intent="alerts_on" if command.subscribe else "alerts_off",
                                language=convo.language, country=country or convo.country))
    if not command.subscribe:
        gone = alerts.unsubscribe(turn.conn, contact_id=turn.contact.id, country=country)
        reply.say(texts.gettext("You will not get alerts any more.") if gone
                  else texts.gettext("You were not subscribed to alerts."))
        return reply
    country = country or convo.country
    if country is None:
        reply.say(texts.gettext("Which country's alerts do you want? Write ALERTS and the country, "
                                "for example ALERTS MX."))
        return reply
    convo.country = country
    name = kb.country_name(country, convo.language)
    new = True  # the simulator's and the API's "web" messages are not subscribed: no number to write to
    if turn.msg.reachable:
        new = alerts.subscribe(turn.conn, contact_id=turn.contact.id, country=country, channel=turn.msg.channel,
                               sealed_address=turn.assistant.box.seal(turn.msg.address), sender=turn.msg.to)
    reply.say(texts.gettext("You will get the alerts for {country}. To stop them, write ALERTS OFF.",
                            country=name) if new else
              texts.gettext("You already get the alerts for {country}. To stop them, write ALERTS OFF.",
                            country=name))
    return reply


def human(turn: Turn) -> Reply | None:
    """PERSON: hand the conversation over to the office."""
    return hand_over(turn, turn.reply, danger=False) if turn.kind == "human" else None


def switch_language(turn: Turn) -> Reply | None:
    """A keyword in another language (AIDE, AYUDA...) switches to it; INFO is the same word in too many."""
    keyword = turn.keyword
    if keyword and keyword.kind in ("language", "help", "erase") and keyword.language != turn.convo.language \
            and keywords.normalize(turn.msg.text) != "INFO":
        turn.convo.language = keyword.language
        turn.texts = Texts(turn.convo.language, turn.assistant.settings.locales_dir)
        turn.reply.understanding.language = turn.convo.language
    return None


def erase(turn: Turn) -> Reply | None:
    """DELETE asks for a confirmation first."""
    if turn.kind != "erase":
        return None
    turn.convo.state["erase_pending"] = True
    turn.reply.say(turn.texts.gettext("Do you want us to delete everything we stored about you? "
                                      "Reply YES to confirm. Any other reply cancels."))
    return turn.reply


def more(turn: Turn) -> Reply | None:
    """MORE sends the next SMS page of the last answer, already cut and converted."""
    if turn.kind != "more":
        return None
    pages, reply = turn.convo.state.get("pages") or [], turn.reply
    if not pages:
        reply.say(turn.texts.gettext("There is nothing more to show."))
        return None
    reply.understanding.intent = "more"
    reply.sms.append(pages.pop(0))
    reply.whatsapp.append(reply.sms[-1])
    turn.convo.state["pages"] = pages
    turn.convo.state["paged"] = True
    return reply


def help_(turn: Turn) -> Reply | None:
    """HELP explains the assistant, then the menu follows."""
    if turn.kind != "help":
        return None
    turn.reply.say(turn.texts.gettext(
        "I am an information assistant for migrants. Information is free and from official sources. "
        "Write MENU for topics, the name of a country to change country, MORE to continue a long "
        "answer, STOP to stop messages, DELETE to delete your data. In danger? Call the emergency "
        "number of the country you are in."))
    turn.convo.first_contact = False  # the help text already introduced the assistant
    return None


def dialogue(turn: Turn) -> Reply:
    """Everything else: the dialogue answers, after what the commands said."""
    answer = turn.assistant.dialogue.respond(turn.msg, turn.convo)
    if answer.understanding.intent == "human":
        answer.understanding.language = turn.convo.language
        return hand_over(turn, answer, danger=False)
    if answer.danger and turn.assistant.settings.handover_on_danger:
        hand_over(turn, answer, danger=True)
    answer.whatsapp[:0], answer.sms[:0] = turn.reply.whatsapp, turn.reply.sms
    if turn.kind in ("help", "language", "menu"):
        answer.understanding.intent = turn.kind
    return answer


COMMANDS: tuple[Callable[[Turn], Reply | None], ...] = (
    opt_out, opted_out, flood, erase_confirmation, open_handover, alert_command, human, switch_language, erase,
    more, help_,
)


def decide(turn: Turn) -> Reply:
    """The first command that answers, or else the dialogue."""
    for command in COMMANDS:
        reply = command(turn)
        if reply is not None:
            return reply
    return dialogue(turn)


def hand_over(turn: Turn, reply: Reply, *, danger: bool) -> Reply:
    """Pause the bot and put the conversation in the operators' queue (urgent when the person is in danger).

    The simulator's and the API's "web" messages get the same words, but no hand-over: nobody to reply to.
    """
    msg, convo, assistant = turn.msg, turn.convo, turn.assistant
    if msg.reachable:
        opened = handovers.open_(turn.conn, contact_id=turn.contact.id, channel=msg.channel,
                                 language=convo.language, country=convo.country,
                                 sealed_address=assistant.box.seal(msg.address), sender=msg.to, danger=danger)
        assistant.metrics.handovers.inc()
        log.info("hand-over %s %s sender=%s", opened.id, "opened" if opened.new else "updated",
                 turn.contact.address_hash[:12])
    texts = Texts(convo.language, assistant.settings.locales_dir)
    if danger:
        reply.say(texts.gettext("A person from our team will also read this conversation."))
        return reply
    reply.understanding.intent = "human"
    reply.say(texts.gettext("Thank you. A person from our team will reply here as soon as possible. Until "
                            "then the assistant is paused. If you are in danger, call the emergency number "
                            "of the country you are in."))
    return reply
