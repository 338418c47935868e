"""The conversation: numbered menus, topic keywords and country choice over the knowledge base."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app import keywords
from app.i18n import Texts
from app.knowledge import KnowledgeBase
from app.messages import Inbound, Reply, Understanding

# Menu order of the countries: fixed, so "reply 9" means the same country for everyone.
COUNTRY_MENU = ("BZ", "CR", "DO", "SV", "GD", "GT", "HT", "HN", "MX", "PA", "SR")


@dataclass
class Conversation:
    """What the dialogue may read and change about one contact."""

    language: str
    country: str | None
    state: dict = field(default_factory=dict)
    first_contact: bool = False


class Dialogue:
    """Decides what to say; rendering decides how."""

    def __init__(self, knowledge: Callable[[], KnowledgeBase], *, locales_dir: Path) -> None:
        self._knowledge = knowledge
        self._locales_dir = locales_dir

    def respond(self, msg: Inbound, convo: Conversation) -> Reply:
        kb = self._knowledge()
        texts = Texts(convo.language, self._locales_dir)
        reply = Reply(Understanding(intent="menu", language=convo.language, country=convo.country))
        if msg.location is not None:
            return self._nearby(msg.location, kb, texts, convo, reply)
        if not msg.text and not msg.choice:
            reply.understanding.intent = "media" if msg.media_types else "empty"
            reply.say(texts.gettext("I can only read text for now. Please write your question."))
            return self._menu(kb, texts, convo, reply)

        topic, country = self._read(msg, kb, convo)
        if country:
            convo.country = reply.understanding.country = country
            convo.state.pop("awaiting", None)
        topic = topic or (convo.state.pop("topic", None) if country else None)
        if topic and convo.country:
            return self._answer(topic, kb, texts, convo, reply)
        if topic:
            convo.state.update(awaiting="country", topic=topic)
            reply.understanding.topic, reply.understanding.intent = topic, topic
            return self._country_menu(kb, texts, convo, reply)
        if country:
            reply.understanding.intent = "choose_country"
            return self._menu(kb, texts, convo, reply)
        if convo.first_contact or keywords.match(msg.text):
            return self._menu(kb, texts, convo, reply)
        reply.understanding = Understanding(intent="out_of_scope", language=convo.language,
                                            country=convo.country, confidence=0.0, answered=False)
        reply.say(texts.gettext("Sorry, I did not understand."))
        return self._menu(kb, texts, convo, reply)

    def _read(self, msg: Inbound, kb: KnowledgeBase, convo: Conversation) -> tuple[str | None, str | None]:
        """The topic and country a message asks for: button payload, menu number, keyword or names."""
        if msg.choice and ":" in msg.choice:
            kind, _, value = msg.choice.partition(":")
            if kind == "country" and value.upper() in kb.countries:
                return None, value.upper()
            if kind == "topic" and kb.topic(value):
                return value, None
        text = msg.text or msg.choice or ""
        word = keywords.normalize(text)
        if word.isdigit():
            number = int(word)
            if convo.state.get("awaiting") == "country":
                codes = [c for c in COUNTRY_MENU if c in kb.countries]
                return None, codes[number - 1] if 1 <= number <= len(codes) else None
            return (kb.topics[number - 1].id if 1 <= number <= len(kb.topics) else None), None
        first, _, rest = word.partition(" ")
        topic = kb.topic_for_keyword(first) or kb.topic_for_keyword(word)
        country = kb.country_in_text(rest if topic and rest else word)
        return topic, country

    def _answer(self, topic: str, kb: KnowledgeBase, texts: Texts, convo: Conversation, reply: Reply) -> Reply:
        reply.understanding.intent = reply.understanding.topic = topic
        reply.understanding.country = convo.country
        answer = kb.answer(topic, convo.country, convo.language)
        if answer is None:
            reply.understanding.answered = False
            reply.say(texts.gettext("I have no checked information on this yet. Write MENU for other topics."))
            return reply
        reply.say(answer.whatsapp, sms=answer.sms)
        reply.whatsapp.append(texts.gettext("Write MENU for other topics."))
        return reply

    def _menu(self, kb: KnowledgeBase, texts: Texts, convo: Conversation, reply: Reply) -> Reply:
        if convo.first_contact:
            reply.say(texts.gettext("Hello! I give free, official information for migrants. I never ask for money."))
        lines = [texts.gettext("*What do you need?* Reply with a number:")]
        lines += [f"{i}. {kb.topic_name(t.id, convo.language)}" for i, t in enumerate(kb.topics, 1)]
        if convo.country:
            lines.append(texts.gettext("Country: {country}. To change it, write the name of another country.",
                                       country=kb.country_name(convo.country, convo.language)))
        reply.say("\n".join(lines))
        return reply

    def _country_menu(self, kb: KnowledgeBase, texts: Texts, convo: Conversation, reply: Reply) -> Reply:
        codes = [c for c in COUNTRY_MENU if c in kb.countries]
        lines = [texts.gettext("Which country are you in? Reply with a number:")]
        lines += [f"{i}. {kb.country_name(code, convo.language)}" for i, code in enumerate(codes, 1)]
        reply.say("\n".join(lines))
        return reply

    def _nearby(self, location: tuple[float, float], kb: KnowledgeBase, texts: Texts, convo: Conversation,
                reply: Reply) -> Reply:
        reply.understanding.intent = "location"
        matches = kb.nearest(location)
        if not matches:
            reply.understanding.answered = False
            reply.say(texts.gettext("Thank you. I have no checked service points near you yet."))
            return self._menu(kb, texts, convo, reply)
        lines = [texts.gettext("*Nearest service points:*")]
        for match in matches:
            point = match.point
            where = ", ".join(x for x in (point.city, kb.country_name(match.country, convo.language)) if x)
            line = f"- {point.organisation} ({where}): {round(match.km or 0)} km"
            if point.website:
                line += f" · {point.website}"
            lines.append(line)
        reply.say("\n".join(lines))
        return reply
