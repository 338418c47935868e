"""Keywords before any dialogue: opt-out, opt-in, help, erase, menu, more, language; and the flood guard."""

from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.channels.render import sms_info, to_gsm7
from app.channels.twilio import EMPTY_TWIML
from app.config import Settings
from app.conversation import pipeline
from app.conversation.keywords import ALERT_WORDS, KEYWORDS, alert_command, match
from app.i18n import Texts
from app.storage.models import Contact, Message, utcnow
from tests.api.test_twilio_webhook import messages_of
from tests.conftest import form_of, new_sid, post_signed

SMS_FROM = "+529629876543"
WA_FROM = "whatsapp:+50688887777"


def say(client, text: str, *, sender: str = SMS_FROM, **extra: str) -> list[str]:  # type: ignore[no-untyped-def]
    name = "whatsapp_text" if sender.startswith("whatsapp:") else "sms_text"
    response = post_signed(client, form_of(name, MessageSid=new_sid(), From=sender, Body=text, **extra))
    assert response.status_code == 200
    return messages_of(client, response.text)


def contact(client) -> Contact:  # type: ignore[no-untyped-def]
    with Session(client.app.state.engine) as session:
        return session.execute(select(Contact)).scalars().one()


def tr(client, language: str, text: str) -> str:  # type: ignore[no-untyped-def]
    return Texts(language, client.app.state.settings.locales_dir).gettext(text)


OPT_OUT = [w for words in KEYWORDS["opt_out"].values() for w in words]


@pytest.mark.parametrize("word", OPT_OUT)
def test_every_opt_out_word(client, word: str) -> None:
    say(client, "hola")
    say(client, word.lower())
    assert contact(client).opted_out is True
    assert say(client, "ASILO MX") == []


@pytest.mark.parametrize("sender", [SMS_FROM, WA_FROM])
@pytest.mark.parametrize("opt_in", ["START", "unstop", "Yes", "comenzar", "Démarrer", "KOMANSE"])
def test_opted_out_people_get_nothing_until_they_opt_in(client, sender: str, opt_in: str) -> None:
    say(client, "STOP", sender=sender)
    response = post_signed(client, form_of("whatsapp_text" if sender.startswith("whatsapp") else "sms_text",
                                           MessageSid=new_sid(), From=sender, Body="ayuda"))
    assert response.text == EMPTY_TWIML
    replies = say(client, opt_in, sender=sender)
    assert replies and "1. " in replies[0]
    assert contact(client).opted_out is False


def test_whatsapp_stop_is_confirmed_but_carrier_handled_sms_stop_is_not(client) -> None:
    [confirmation] = say(client, "PARAR", sender=WA_FROM)
    assert confirmation == tr(client, "es", "You will not receive more messages. To start again, write START.")
    response = post_signed(client, form_of("sms_stop", MessageSid=new_sid()))  # OptOutType=STOP
    assert response.text == EMPTY_TWIML


def test_opted_out_texts_are_not_kept(client) -> None:
    say(client, "STOP")
    say(client, "my secret question")
    with Session(client.app.state.engine) as session:
        texts = session.execute(select(Message.text).where(Message.direction == "in")).scalars().all()
    assert "my secret question" not in texts


@pytest.mark.parametrize("word, language", [("HELP", "en"), ("ayuda", "es"), ("Aide", "fr"), ("ÈD", "ht"),
                                            ("ajuda", "pt"), ("hulp", "nl")])
def test_help_in_the_language_of_the_word(client, word: str, language: str) -> None:
    [reply] = say(client, word, sender=WA_FROM)
    help_text = tr(client, language, "I am an information assistant for migrants. Information is free and from "
                   "official sources. Write MENU for topics, the name of a country to change country, MORE to "
                   "continue a long answer, STOP to stop messages, DELETE to delete your data. In danger? Call "
                   "the emergency number of the country you are in.")
    assert reply.startswith(help_text)
    assert contact(client).language == language


def test_keywords_are_whole_message_only() -> None:
    assert match("stop") and match("  Stop! ") and match("STOP.")
    assert match("please stop sending") is None
    assert match("ayuda por favor") is None


def test_erase_after_confirmation_deletes_every_record(client) -> None:
    say(client, "hola")
    say(client, "ASILO MX")
    [question] = say(client, "BORRAR")
    assert "SI" in question
    [done] = say(client, "sí")
    assert done == tr(client, "es", "Done: everything we stored about you has been deleted.")
    with Session(client.app.state.engine) as session:
        assert session.execute(select(func.count()).select_from(Contact)).scalar_one() == 0
        rows = session.execute(select(Message)).scalars().all()
    assert rows, "inbound MessageSids stay for de-duplication"
    assert all(r.contact_id is None and r.text is None and r.direction == "in" for r in rows)


def test_erase_is_cancelled_by_anything_but_yes(client) -> None:
    say(client, "hola")
    say(client, "EFFACER")
    [reply] = say(client, "non")
    assert reply.startswith(tr(client, "fr", "Nothing was deleted."))
    assert contact(client).opted_out is False


def test_language_switch(client) -> None:
    say(client, "hola", sender=WA_FROM)
    [reply] = say(client, "kreyòl", sender=WA_FROM)
    assert contact(client).language == "ht"
    assert f'*{tr(client, "ht", "What do you need?")}* {tr(client, "ht", "Reply with a number:")}' in reply


def test_menu_words_go_back(client) -> None:
    say(client, "ASILO")  # asks for the country... but the calling code already gave MX
    for word in ("MENU", "inicio", "0"):
        [reply] = say(client, word)
        assert "14. " in reply


def test_sms_is_capped_and_more_gives_the_rest(client) -> None:
    client.app.state.settings.sms_max_segments = 1
    [first] = say(client, "ASILO MX")
    assert sms_info(first).segments == 1 and sms_info(first).encoding == "GSM-7"
    hint = to_gsm7(tr(client, "es", "Reply MORE for more."))
    assert first.endswith(hint)
    pages = [first]
    while pages[-1].endswith(hint):
        [page] = say(client, "MAS")
        assert sms_info(page).segments == 1
        pages.append(page)
    assert len(pages) >= 2
    [nothing] = say(client, "MAS")
    assert nothing.startswith(to_gsm7(tr(client, "es", "There is nothing more to show.")))


def test_flood_guard_silences_a_loop_and_logs_it_until_the_silence_ends(client, caplog, monkeypatch) -> None:
    settings = client.app.state.settings
    settings.flood_max_replies = 5
    replies = [say(client, f"auto-reply {i}") for i in range(12)]
    assert all(replies[:5]) and not any(replies[5:])
    assert any("flood" in r.getMessage() for r in caplog.records)
    with Session(client.app.state.engine) as session:
        outbound = session.execute(select(func.count()).where(Message.direction == "out")).scalar_one()
    assert outbound == 5
    until = contact(client).silenced_until
    assert until is not None
    until = until if until.tzinfo else until.replace(tzinfo=UTC)
    assert abs((until - utcnow()).total_seconds() - settings.flood_silence_seconds) < 60
    monkeypatch.setattr(pipeline, "utcnow", lambda: until - timedelta(seconds=1))
    assert say(client, "auto-reply 12") == []  # still silent a second before the end
    monkeypatch.setattr(pipeline, "utcnow", lambda: until + timedelta(seconds=1))
    assert say(client, "auto-reply 13") and say(client, "hola")  # over: answered again, in a new window


def test_normal_conversation_never_reaches_the_flood_limit(client) -> None:
    limit = Settings.model_fields["flood_max_replies"].default  # the shipped limit, not the tests' 1000
    client.app.state.settings.flood_max_replies = limit
    conversation = ("hola", "1", "MENU", "3", "MENU", "11", "AYUDA", "ASILO MX", "MAS", "MENU")
    assert len(conversation) < limit
    for text in conversation:
        assert say(client, text), text
    # The guard was on all along and counted the conversation once per message: a loop is silenced at the limit.
    replies = [say(client, f"auto-reply {i}") for i in range(limit - len(conversation) + 1)]
    assert all(replies[:-1]) and replies[-1] == []


@pytest.mark.parametrize(("text", "subscribe", "language", "rest"), [
    ("ALERTAS", True, "es", ""), ("alertas mx", True, "es", "MX"), ("Alerts Costa Rica", True, "en", "COSTA RICA"),
    ("ALÈT", True, "ht", ""), ("alertes non", False, "fr", ""), ("ALERTAS NO GT", False, "es", "GT"),
    ("stop alerts", False, "en", ""), ("MELDINGEN UIT", False, "nl", ""), ("ALERTAS NÃO", False, "es", ""),
])
def test_alert_commands(text: str, subscribe: bool, language: str, rest: str) -> None:
    command = alert_command(text)
    assert command is not None and (command.subscribe, command.language, command.rest) == (subscribe, language, rest)


@pytest.mark.parametrize("text", ["STOP", "hola", "quiero alertas de lluvia", "", "NO"])
def test_other_texts_are_no_alert_command(text: str) -> None:
    assert alert_command(text) is None


def test_new_words_shadow_no_topic_or_country() -> None:
    from app.config import ROOT
    from app.knowledge.live import LiveKnowledge

    live = LiveKnowledge(ROOT / "content", locales_dir=ROOT / "locales")
    live.reload()
    kb = live.get()
    words = [w for ws in KEYWORDS["human"].values() for w in ws] + list(ALERT_WORDS)
    assert [w for w in words if kb.topic_for_keyword(w) or kb.country_for_word(w)] == []
