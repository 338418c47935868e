"""Specific entries in a conversation: answering one, offering close ones, and asking whether it was useful."""

from datetime import date
from typing import TYPE_CHECKING

from app.i18n import Texts
from app.knowledge import KnowledgeBase
from app.messages import Reply
from app.text import fold

if TYPE_CHECKING:
    from app.conversation.dialogue import Conversation

YES = frozenset({"1", "si", "s", "yes", "y", "oui", "wi", "sim", "ja"})
NO = frozenset({"2", "no", "n", "non", "nao", "nee", "nope"})


def answer_entry(kb: KnowledgeBase, entry_id: str, texts: Texts, convo: "Conversation", reply: Reply, *,
                 channel: str, today: date) -> Reply:
    """The entry itself; where it holds everywhere and the country is unknown, one line offering local contacts;
    on WhatsApp, at most once a day, whether it was useful."""
    u = reply.understanding
    # the entry's country, or the one the message named ("desde Honduras"), is where the person is asking about
    convo.country = kb.entry_scope.get(entry_id) or u.country or convo.country
    answer = kb.entry_answer(entry_id, convo.language, convo.country)
    if answer is None:  # the content changed between the reading and the answer
        u.entry = None
        return reply
    u.entry, u.topic, u.answered = entry_id, answer.topic, True
    u.country = convo.country
    if u.intent != "emergency":
        u.intent = answer.topic
    reply.say(answer.whatsapp, sms=answer.sms)
    if answer.country is None and convo.country is None:
        reply.say(texts.gettext("Write your country for local phone numbers."))
    if channel == "whatsapp" and convo.state.get("feedback_on") != today.isoformat():
        convo.state.update(awaiting="feedback", entry=entry_id, feedback_on=today.isoformat())
        reply.say(texts.gettext("Was this useful? 1 Yes / 2 No"))
    return reply


def offer_choices(kb: KnowledgeBase, ids: tuple[str, ...], texts: Texts, convo: "Conversation", reply: Reply) -> Reply:
    """Two or three close entries as numbered choices; the next message's number picks one."""
    lines = [texts.gettext("Which of these do you mean? Reply with a number:")]
    lines += [f"{i}. {kb.entry_title(entry_id, convo.language, convo.country)}" for i, entry_id in enumerate(ids, 1)]
    convo.state.update(awaiting="entry", options=list(ids))
    reply.understanding.intent, reply.understanding.choices = "choose_entry", ids
    reply.say("\n".join(lines))
    return reply


def follow_up(text: str, kb: KnowledgeBase, texts: Texts, convo: "Conversation", reply: Reply, *,
              channel: str, today: date) -> Reply | None:
    """A reply to a choice of entries or to "was it useful?"; None when the message is something else."""
    awaiting = convo.state.pop("awaiting", None)
    options, entry_id = convo.state.pop("options", None), convo.state.pop("entry", None)
    word = " ".join(fold(text).strip(" .!?¡¿").split())
    if awaiting == "entry" and options and word.isdigit() and 1 <= int(word) <= len(options):
        return answer_entry(kb, options[int(word) - 1], texts, convo, reply, channel=channel, today=today)
    if awaiting == "feedback" and entry_id and (word in YES or word in NO):
        u = reply.understanding
        u.intent, u.entry, u.useful = "feedback", entry_id, word in YES
        if u.useful:
            reply.say(texts.gettext("Thank you! Write MENU whenever you need information."))
        else:
            reply.say(texts.gettext("Sorry it did not help. Write PERSON to talk to a person, or MENU for the "
                                    "topics."))
        return reply
    return None
