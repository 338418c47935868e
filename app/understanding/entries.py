"""After the topic, the specific entry: whichever engine read the message, the app picks the entry it asks about."""

from collections.abc import Callable

from app.knowledge.retrieval import Match
from app.messages import Understanding

# Intents that ask the assistant to do something (a person, the menu, another language): never an entry.
ACTIONS = frozenset({"human", "menu", "affirm", "deny", "choose_country", "choose_language"})
# Intents about the conversation itself: a short greeting is not a question for an entry; a greeting followed by
# a question is ("hola buenas, cuanto cuesta pedir refugio").
CONVERSATIONAL = frozenset({"greet", "goodbye", "thanks"})
SHORT = 3  # words: a conversational message this short asks no entry ("hola buenas", "ok gracias")
CLOSE = 0.08  # entries whose score is this near the best one are offered with it
SURE_TOPIC, NEAR = 0.9, 0.3  # an entry of another topic than a surely read one must be this near...
DISAGREE_AT = 0.7  # ...and this sure (its calibrated confidence), else the topic's overview answers
SURE_ACTION = 0.6  # an action read less surely than this yields to an entry matched more surely
# Words: a message this long says more than an action ("my daughter wants to talk to someone about home, which
# number can she call"): an entry matched more surely than the action was read answers it.
LONG = 10

Search = Callable[[str, tuple[str | None, ...]], list[Match]]


def pick_entry(u: Understanding, text: str, search: Search, *, answer_at: float, offer_at: float,
               remembered: str | None = None) -> Understanding:
    """Set the entry (and its topic) when one matches well enough, or 2-3 close choices when none stands out.

    The entries searched are those of the country the message names, else of the one remembered for the person,
    and the regional ones; when none of the named country's answers, the remembered country's are searched too
    (written in Guatemala, "deported from Mexico" asks where Guatemala receives them)."""
    if u.intent in CONVERSATIONAL and len(text.split()) <= SHORT:  # "hola", "gracias": not a question
        return u
    if u.intent in ACTIONS and u.confidence >= max(answer_at, SURE_ACTION) and len(text.split()) < LONG:
        return u  # "a person", "the menu", read surely
    matches = search(text, (u.country or remembered,))
    if u.country and remembered and u.country != remembered and not (
            matches and matches[0].score >= offer_at and matches[0].confidence >= answer_at):
        matches = search(text, (u.country, remembered))
    if not matches:
        return u
    best = matches[0]
    if u.intent in ACTIONS and u.confidence >= answer_at:
        # an action read unsurely yields only to an entry matched more surely: "my daughter wants to talk to
        # someone, which number can she call" is a question
        if best.score < offer_at or best.confidence < max(answer_at, u.confidence):
            return u
        u.intent, u.topic = best.topic, best.topic
    u.entry_confidence = best.confidence
    if best.score < offer_at:  # too far from every phrasing ("who won the match?"): the margin says nothing
        return u
    other = bool(u.topic) and best.topic != u.topic
    if other and u.confidence >= SURE_TOPIC and best.score < NEAR:
        return u  # the engine is sure of a topic this country has no close entry on: its overview answers
    # an entry of another topic than a surely read one must be sure; so must an emergency number's entry for a
    # message read as another topic ("how do I get papers in the Dominican Republic" is not "call 911")
    disagree = other and (u.confidence >= SURE_TOPIC or best.topic == "emergency")
    if best.confidence >= (DISAGREE_AT if disagree else answer_at):
        u.entry, u.topic, u.answered = best.entry, best.topic, True
        if u.intent != "emergency" and best.topic != "emergency":  # danger is for the words of the message to say
            u.intent = best.topic
    else:
        close = tuple(m.entry for m in matches if m.score >= best.score - CLOSE)
        if len(close) >= 2:
            u.choices = close[:3]
    return u
