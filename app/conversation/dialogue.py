"""The conversation: danger first, menus and keywords, then free text understood by an engine."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from app.conversation import entries, keywords
from app.i18n import Texts
from app.knowledge import KnowledgeBase
from app.knowledge.base import Answer, short_url
from app.knowledge.places import NEAR_KM, kinds_in_text
from app.messages import Inbound, Reply, Understanding, title
from app.understanding.danger import in_danger, sexual_violence
from app.understanding.router import Understander

# Menu order of the countries: fixed, so "reply 9" means the same country for everyone.
COUNTRY_MENU = ("BZ", "CR", "DO", "SV", "GD", "GT", "HT", "HN", "MX", "PA", "SR")


@dataclass
class Conversation:
    """What the dialogue may read and change about one contact."""

    language: str
    country: str | None
    state: dict = field(default_factory=dict)
    first_contact: bool = False
    sender: str = ""  # the hashed address, for engines that keep their own conversation
    understood: Understanding | None = None  # a remote engine's reading, asked before the transaction began


def answer_texts(kb: KnowledgeBase, topic: str, country: str | None,
                 texts: Texts) -> tuple[Answer | None, list[str], list[str]]:
    """What the assistant says when asked a topic for a country: the answer, WhatsApp texts, SMS texts.

    The console's content preview shows exactly this.
    """
    answer = kb.answer(topic, country, texts.language)
    if answer is None:
        sorry = texts.gettext("I have no checked information on this yet. Write MENU for other topics.")
        return None, [sorry], [sorry]
    return answer, [answer.whatsapp, texts.gettext("Write MENU for other topics.")], [answer.sms]


class Dialogue:
    """Decides what to say; rendering decides how."""

    def __init__(self, knowledge: Callable[[], KnowledgeBase], understander: Understander, *,
                 locales_dir: Path) -> None:
        self._knowledge = knowledge
        self.understander = understander
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
        if in_danger(msg.text):
            return self._danger(msg, kb, convo, reply)
        if convo.state.get("awaiting") in ("entry", "feedback"):
            followed = entries.follow_up(msg.text or msg.choice or "", kb, texts, convo, reply, channel=msg.channel,
                                         today=date.today())
            if followed is not None:
                return followed

        topic, country = self._read(msg, kb, convo)
        if topic is None and country is None and not keywords.match(msg.text):
            return self._understand(msg, kb, convo, reply)
        return self._route(topic, country, msg, kb, convo, reply)

    def needs_engine(self, msg: Inbound, convo: Conversation) -> bool:
        """Whether respond() would ask the engine about this message (the pipeline asks a remote one early)."""
        if msg.location is not None or not msg.text or in_danger(msg.text) or keywords.match(msg.text):
            return False
        return self._read(msg, self._knowledge(), convo) == (None, None)

    def _route(self, topic: str | None, country: str | None, msg: Inbound, kb: KnowledgeBase,
               convo: Conversation, reply: Reply) -> Reply:
        """Answer a topic for a country, asking for the country when it is not known yet."""
        texts = Texts(convo.language, self._locales_dir)
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

    def _understand(self, msg: Inbound, kb: KnowledgeBase, convo: Conversation, reply: Reply) -> Reply:
        """Free text: the engine says what it is about; the knowledge base answers."""
        u = convo.understood or self.understander.understand(msg.text, sender=convo.sender, channel=msg.channel,
                                                             language=convo.language, country=convo.country)
        convo.language = u.language
        texts = Texts(convo.language, self._locales_dir)
        reply.understanding = u
        if u.intent == "emergency":
            return self._danger(msg, kb, convo, reply, understanding=u)
        city = kb.city_in_text(msg.text)
        wanted = kinds_in_text(msg.text)  # "albergue", "abogado": the service points of the city, shelters first
        # a city's service points, unless the entry found is a service of that very city (its shelter, its office)
        listing = bool(city and wanted and not (u.entry and u.topic == "services" and kb.entry_names(u.entry, city)))
        if u.entry and not listing:
            return entries.answer_entry(kb, u.entry, texts, convo, reply, channel=msg.channel, today=date.today())
        if u.choices and not listing:
            return entries.offer_choices(kb, u.choices, texts, convo, reply)
        if city and (wanted or u.topic in (None, "services")):
            u.entry = None
            u.intent, u.topic, u.answered = "services", "services", True
            found = kb.in_city(city)
            convo.country = u.country = convo.country or found[0].country  # the city says where the person is
            found.sort(key=lambda match: match.point.kind not in wanted)
            return self._services(found, kb, texts, convo, reply,
                                  title(texts.gettext("Service points in {city}:", city=city)))
        if u.topic:
            return self._route(u.topic, u.country if u.country != convo.country else None, msg, kb, convo, reply)
        if u.intent == "choose_country" and u.country:
            return self._route(None, u.country, msg, kb, convo, reply)
        if u.intent == "choose_language":
            return self._menu(kb, texts, convo, reply)
        if u.intent in ("thanks", "goodbye"):
            reply.say(texts.gettext("You are welcome. Write MENU whenever you need information."))
            return reply
        if u.intent == "human":
            return reply  # the pipeline opens a hand-over to a person
        if u.intent in ("greet", "menu", "affirm", "deny"):
            return self._menu(kb, texts, convo, reply)
        u.intent, u.answered = "out_of_scope", False
        if convo.first_contact:
            return self._menu(kb, texts, convo, reply)
        reply.say(texts.gettext("Sorry, I did not understand."))
        return self._menu(kb, texts, convo, reply)

    def _danger(self, msg: Inbound, kb: KnowledgeBase, convo: Conversation, reply: Reply,
                understanding: Understanding | None = None) -> Reply:
        """Emergency numbers first, then the emergency answer; the country is asked for only after."""
        u = understanding or self.understander.understand(msg.text, sender=convo.sender, channel=msg.channel,
                                                          language=convo.language, country=convo.country)
        convo.language = u.language
        country = u.country or convo.country
        texts = Texts(convo.language, self._locales_dir)
        reply.understanding = Understanding(intent="emergency", language=convo.language, topic="emergency",
                                            country=country, confidence=u.confidence, engine=u.engine)
        reply.danger = True
        # after sexual violence, care works only in the first hours: the entry that gives it, if one matched
        care = next((m.entry for m in kb.search_entries(msg.text, (country,)) if m.topic == "health"), None) \
            if sexual_violence(msg.text) else None
        if country is None:
            reply.say(texts.gettext("If you are in danger, call the emergency number of the country you are in now."))
            answer = kb.entry_answer(care, convo.language) if care else None
            if answer is not None:  # a regional entry holds wherever the person is: now, and one line for the numbers
                reply.understanding.entry = care
                reply.say(answer.whatsapp, sms=answer.sms)
                reply.say(texts.gettext("Write your country for local phone numbers."))
                convo.state["topic"] = "emergency"  # the country they write gets its emergency numbers
                return reply
            convo.state.update(awaiting="country", topic="emergency")
            return self._country_menu(kb, texts, convo, reply)
        convo.country = country
        numbers = kb.numbers_block(country, convo.language)
        answer = kb.answer("emergency", country, convo.language)
        if numbers and (u.entry or answer is None or numbers not in answer.whatsapp):
            reply.say(numbers)
        entry = care or u.entry
        if entry:  # what the message is about (care after sexual violence…), after the numbers
            reply.understanding.entry_confidence = u.entry_confidence
            return entries.answer_entry(kb, entry, texts, convo, reply, channel=msg.channel, today=date.today())
        if answer is not None:
            reply.say(answer.whatsapp, sms=answer.sms)
        return reply

    def _read(self, msg: Inbound, kb: KnowledgeBase, convo: Conversation) -> tuple[str | None, str | None]:
        """The topic and country of a button, a menu number, a keyword (ASILO MX) or a bare country name."""
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
        whole = kb.topic_for_keyword(word)
        topic = whole or kb.topic_for_keyword(first)
        # a keyword alone, or with a country ("ASILO MX"); "trabajo en el campo con visa..." is a question
        country = kb.country_in_text(rest) if rest else None
        if topic and (whole or not rest or (country and len(rest.split()) <= 3)):
            return topic, country
        return None, kb.country_for_word(word)

    def _answer(self, topic: str, kb: KnowledgeBase, texts: Texts, convo: Conversation, reply: Reply) -> Reply:
        reply.understanding.intent = reply.understanding.topic = topic
        reply.understanding.country = convo.country
        answer, whatsapp, sms = answer_texts(kb, topic, convo.country, texts)
        reply.understanding.answered = answer is not None
        reply.whatsapp += whatsapp
        reply.sms += sms
        return reply

    def _menu(self, kb: KnowledgeBase, texts: Texts, convo: Conversation, reply: Reply) -> Reply:
        if convo.first_contact:
            reply.say(texts.gettext("Hello! I give free, official information for migrants. I never ask for money."))
        heading, how = texts.gettext("What do you need?"), texts.gettext("Reply with a number:")
        lines = [f"{title(heading)} {how}"]
        lines += [f"{i}. {kb.topic_name(t.id, convo.language)}" for i, t in enumerate(kb.topics, 1)]
        lines.append(texts.gettext("ALERTS: get alerts for your country. PERSON: talk to a person."))
        if convo.country:
            lines.append(texts.gettext("Country: {country}. To change it, write the name of another country.",
                                       country=kb.country_name(convo.country, convo.language)))
        reply.say("\n".join(lines))
        return reply

    def _country_menu(self, kb: KnowledgeBase, texts: Texts, convo: Conversation, reply: Reply) -> Reply:
        """WhatsApp: the countries by name, numbered. SMS, where each line costs: the codes on one line."""
        codes = [c for c in COUNTRY_MENU if c in kb.countries]
        lines = [texts.gettext("Which country are you in? Reply with a number:")]
        lines += [f"{i}. {kb.country_name(code, convo.language)}" for i, code in enumerate(codes, 1)]
        short = texts.gettext("Which country are you in? Reply with its code: {codes}", codes=" ".join(codes))
        reply.say("\n".join(lines), sms=short)
        return reply

    def _nearby(self, location: tuple[float, float], kb: KnowledgeBase, texts: Texts, convo: Conversation,
                reply: Reply) -> Reply:
        reply.understanding.intent = "location"
        nearby = kb.nearby(location, convo.country)
        if nearby.home:
            self._services(nearby.home, kb, texts, convo, reply, title(texts.gettext("Nearest service points:")))
        elif nearby.country:
            reply.understanding.answered = False
            reply.say(texts.gettext("We have no checked service point within {km} km of you.", km=round(NEAR_KM)))
        if nearby.abroad is not None:
            self._services([nearby.abroad], kb, texts, convo, reply, texts.gettext(
                "The nearest is in {country}, {km} km away:",
                country=kb.country_name(nearby.abroad.country, convo.language), km=round(nearby.abroad.km or 0)))
        if nearby.home:
            return reply
        numbers = kb.numbers_block(nearby.country, convo.language) if nearby.country else ""
        if numbers:
            reply.say(numbers)
            return reply
        reply.understanding.answered = False
        reply.say(texts.gettext("Thank you. I have no checked service points near you yet."))
        return self._menu(kb, texts, convo, reply)

    def _services(self, matches: list, kb: KnowledgeBase, texts: Texts, convo: Conversation, reply: Reply,
                  heading: str) -> Reply:
        """A list of service points: organisation, place, distance, how to reach them, where to confirm."""
        lines = [heading]
        for match in matches:
            point = match.point
            where = ", ".join(x for x in (point.city, kb.country_name(match.country, convo.language)) if x)
            line = f"- {point.organisation} ({where})"
            if match.km is not None:
                about = texts.gettext("about {km} km from the city centre", km=round(match.km)) \
                    if point.coordinates_precision == "city" else texts.gettext("{km} km", km=round(match.km))
                line += f": {about}"
            details = [x for x in (point.address, " ".join(point.phones), point.hours) if x]
            confirm = point.website or point.source
            if confirm:
                details.append(short_url(str(confirm)))
            if details:
                line += "\n  " + " · ".join(details)
            lines.append(line)
        reply.say("\n".join(lines))
        return reply
