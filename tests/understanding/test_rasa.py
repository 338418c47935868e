"""A real Rasa 3.6 server end to end: its own Python 3.10 environment (cached), a trained model (cached by the
hash of bot/), `rasa run` on loopback, and the app with ENGINE=rasa serving the custom action."""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from app.config import ROOT
from app.i18n import Texts
from app.storage.db import make_engine
from app.storage.models import Message
from app.understanding.rasa_setup import ensure_model, start_server, stop_server
from tests.conftest import LiveServer, free_port, make_settings, new_sid, sign

# (text, channel, topic, country, language): the answer must be the knowledge base's for topic and country.
CASES = [
    ("q necesito pa pedir refugio en costa rica", "api", "asylum", "CR", "es"),
    ("Kijan mwen ka mande azil nan Meksik?", "webhook", "asylum", "MX", "ht"),
    ("como consigo permiso de trabajo en guatemala", "api", "work", "GT", "es"),
    ("how do i get a work permit in belize", "webhook", "work", "BZ", "en"),
    ("perdi mi pasaporte en panama que hago", "api", "documents", "PA", "es"),
    ("i lost my passport in mexico what do i do", "webhook", "documents", "MX", "en"),
    ("quiero regresar a mi pais, hay ayuda para volver desde honduras", "api", "return", "HN", "es"),
    ("je veux rentrer chez moi, comment avoir le retour volontaire depuis haiti", "webhook", "return", "HT", "fr"),
    ("mi hermano desaparecio en el darien, como lo busco desde panama", "api", "missing", "PA", "es"),
    ("mwen pa gen nouvel frè m depi li te nan Meksik, kijan pou m chèche l", "webhook", "missing", "MX", "ht"),
    ("como puedo arreglar mis papeles en republica dominicana", "api", "regularization", "DO", "es"),
    ("ik wil een verblijfsvergunning in suriname", "webhook", "regularization", "SR", "nl"),
    ("me ofrecen trabajo pero me quitaron el pasaporte y no me dejan ir, es trata? estoy en mexico", "api",
     "trafficking", "MX", "es"),
    ("where can i find a shelter or help for migrants in costa rica", "webhook", "services", "CR", "en"),
    ("mi hijo esta enfermo, donde lo llevo al medico en guatemala", "api", "health", "GT", "es"),
    ("como inscribo a mis hijos en la escuela en el salvador", "webhook", "education", "SV", "es"),
    ("viene un huracan, que hago y donde hay albergues en honduras", "api", "disasters", "HN", "es"),
    ("quero trazer minha familia para o mexico, como faço a reunificação", "webhook", "family", "MX", "pt"),
    ("es peligroso cruzar la selva del darien hacia panama", "api", "risks", "PA", "es"),
    ("comment demander l'asile au mexique", "webhook", "asylum", "MX", "fr"),
    ("kijan pou m jwenn papye nan Repiblik Dominikèn", "api", "regularization", "DO", "ht"),
    ("hoe kan ik asiel aanvragen in suriname", "webhook", "asylum", "SR", "nl"),
]


@pytest.fixture(scope="module")
def rasa_app() -> Iterator[tuple[LiveServer, object]]:
    model = ensure_model(ROOT / "bot")
    rasa_port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="rasa-test-"))
    settings = make_settings(f"sqlite:///{folder / 'rasa.db'}", engine="rasa",
                             rasa_url=f"http://127.0.0.1:{rasa_port}", rasa_timeout_seconds=10.0)
    server = LiveServer(settings)
    rasa = start_server(model, port=rasa_port, action_url=f"{server.url}/rasa/webhook",
                        action_token=settings.action_token, log=folder / "rasa.log")
    try:
        with server:
            try:
                yield server, settings
            finally:  # Rasa first: its keep-alive connections to the app close before the app stops
                stop_server(rasa)
    finally:
        stop_server(rasa)
        assert rasa.poll() is not None, "the Rasa server must be stopped"


def test_rasa_answers_from_the_knowledge_base_through_both_doors(rasa_app) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from app.knowledge.live import LiveKnowledge

    server, settings = rasa_app
    kb = LiveKnowledge(ROOT / "content", locales_dir=ROOT / "locales").reload()
    failures, other_topic = [], []
    for i, (text, door, topic, country, language) in enumerate(CASES):
        sender = f"+5215500{i:05d}"
        if door == "api":
            body = httpx.post(f"{server.url}/api/v1/messages", timeout=30,
                              json={"sender": sender, "text": text, "channel": "whatsapp"}).json()
            reply, understanding = body["replies"][0]["text"], body["understanding"]
        else:
            params = {"MessageSid": new_sid(), "From": f"whatsapp:{sender}", "To": "whatsapp:+50640001234",
                      "Body": text, "NumMedia": "0", "AccountSid": "AC0", "ApiVersion": "2010-04-01"}
            from urllib.parse import urlencode

            response = httpx.post(f"{server.url}/webhooks/twilio", content=urlencode(params), timeout=30, headers={
                "content-type": "application/x-www-form-urlencoded",
                "x-twilio-signature": sign(settings.public_base_url + "/webhooks/twilio", params)})
            import xml.etree.ElementTree as ET

            reply = ET.fromstring(response.text).findall("Message")[0].text or ""
            engine = make_engine(settings.database_url)
            with Session(engine) as session:
                row = session.execute(select(Message).where(Message.message_sid == params["MessageSid"])).scalar_one()
            engine.dispose()
            understanding = {"engine": row.engine, "topic": row.topic, "country": row.country,
                             "language": row.language, "entry": row.entry}
        # Rasa reads the topic and the country; the app then answers the specific entry that matches, offers close
        # ones, or answers the topic's overview
        entry = understanding["entry"]
        expected = kb.entry_answer(entry, language, country) if entry else kb.answer(topic, country, language)
        got = (understanding["engine"], understanding["country"], understanding["language"])
        offered = reply.startswith(Texts(language, ROOT / "locales").gettext(
            "Which of these do you mean? Reply with a number:"))
        if got != ("rasa", country, language) or not (offered or reply.startswith(expected.whatsapp[:60])):
            failures.append((text, got, reply[:80]))
        if understanding["topic"] != topic and not offered:
            other_topic.append((text, topic, understanding["topic"], entry))
    assert not failures, failures
    # An entry of another topic than Rasa's is the retrieval's call. Known misses today, where the country has no
    # entry on the topic asked and a distant one of another topic scores just enough: papers in the Dominican
    # Republic (es and ht), bringing family to Mexico. A fourth is a regression.
    assert len(other_topic) <= 3, other_topic
    assert len(CASES) >= 20
    ready = httpx.get(f"{server.url}/readyz", timeout=10).json()
    assert ready["engine"]["name"] == "rasa" and ready["engine"]["rasa_reachable"] is True
    assert ready["engine"]["fallbacks"] == 0


def test_rasa_reads_the_intent_with_its_linear_classifier(rasa_app) -> None:  # type: ignore[no-untyped-def]
    """bot/components/linear_intents.py inside Rasa: accents and punctuation fold away, the ranking is the first
    ten of confidences that sum to one, and words it never saw fall to Rasa's own fallback."""
    import httpx

    _, settings = rasa_app

    def parse(text: str) -> dict:  # type: ignore[type-arg]
        return httpx.post(f"{settings.rasa_url}/model/parse", json={"text": text}, timeout=30).json()

    written, plain = parse("¿Cómo solicito asilo en México?"), parse("como solicito asilo en mexico")
    assert written["intent"]["name"] == plain["intent"]["name"] == "asylum"
    assert written["intent"]["confidence"] == pytest.approx(plain["intent"]["confidence"])
    ranking = [r["confidence"] for r in written["intent_ranking"]]
    assert ranking == sorted(ranking, reverse=True) and len(ranking) == 10 and 0.9 < sum(ranking) <= 1.0 + 1e-9
    assert parse("mi patron no me quiere pagar las horas extra")["intent"]["name"] == "work"
    assert parse("qwzx vbnm")["intent"]["name"] == "nlu_fallback"


def test_rasa_data_is_valid() -> None:
    import subprocess

    from app.understanding.rasa_setup import VENV, _rasa_env

    result = subprocess.run([str(VENV / "bin" / "rasa"), "data", "validate", "--fail-on-warnings"],
                            cwd=ROOT / "bot", capture_output=True, text=True, timeout=600,
                            env=_rasa_env(**{k: v for k, v in os.environ.items() if k.startswith("RASA")}))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
