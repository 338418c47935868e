"""Understanding free text: the embedded engine, the dialogue around it, the Rasa action protocol, fallback."""

import os
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import ROOT
from app.conversation.contacts import defaults_for
from app.i18n import LANGUAGES, Texts
from app.knowledge.live import LiveKnowledge
from app.knowledge.schema import TOPIC_IDS
from app.main import create_app
from app.understanding.danger import in_danger, sexual_violence
from app.understanding.evaluate import evaluate
from app.understanding.router import build_understander
from app.understanding.training import read_folder, read_nlu
from tests.api.test_twilio_webhook import messages_of
from tests.conftest import BASE, form_of, make_settings, new_sid, post_signed

HELD_OUT = ROOT / "tests" / "data" / "nlu_test.yml"


@pytest.fixture(scope="module")
def knowledge() -> LiveKnowledge:
    live = LiveKnowledge(ROOT / "content", locales_dir=ROOT / "locales")
    live.reload()
    return live


@pytest.fixture(scope="module")
def embedded(knowledge: LiveKnowledge):  # type: ignore[no-untyped-def]
    return build_understander(make_settings("sqlite://"), knowledge).embedded


def test_training_data_shape() -> None:
    training = read_folder(ROOT / "bot" / "data" / "nlu")
    for topic in TOPIC_IDS:
        examples = [e for e in training if e.intent == topic]
        assert len(examples) >= 60, topic
        for language in LANGUAGES:
            assert sum(e.language == language for e in examples) >= 8, (topic, language)
    held_out = read_nlu(HELD_OUT)
    intents = {e.intent for e in training}
    for intent in intents:
        assert sum(e.intent == intent for e in held_out) >= 10, intent
    seen = {e.text.lower() for e in training}
    assert not [e.text for e in held_out if e.text.lower() in seen], "held-out examples leaked into training"


def test_embedded_engine_meets_its_targets_on_the_held_out_file(embedded, knowledge) -> None:  # type: ignore[no-untyped-def]
    report = evaluate("embedded", read_nlu(HELD_OUT), lambda text: embedded.understand(text, language="es"),
                      knowledge.get().country_for_word)
    assert report.topic_accuracy >= 0.90
    assert all(report.language_accuracy(language) >= 0.85 for language in LANGUAGES), dict(report.by_language)
    # the topic, in every language: Kreyòl and French as well read as Spanish and English
    assert all(report.topic_language_accuracy(lang) >= 0.88 for lang in LANGUAGES), dict(report.topic_by_language)
    assert report.detection_accuracy >= 0.95
    assert report.country_accuracy >= 0.90


def test_fast_inference_is_the_svm_decision(embedded) -> None:  # type: ignore[no-untyped-def]
    """The hand-written sparse inference computes what sklearn's vectorizers and LinearSVC would."""
    from scipy.sparse import hstack
    from sklearn.svm import LinearSVC

    fast = embedded.intents._fast
    words, chars = (part for part in fast.parts)
    texts = ["q necesito pa pedir refugio", "mwen pedi paspo m", "where is the shelter", "zzzz"]
    # rebuild the feature matrix with sklearn's own transform on the same fitted vocabularies
    from sklearn.feature_extraction.text import TfidfVectorizer

    def vectorizer(part) -> TfidfVectorizer:  # type: ignore[no-untyped-def]
        v = TfidfVectorizer(analyzer=part.analyzer, sublinear_tf=True, vocabulary=part.vocabulary)
        v.fit(["x"])
        v.idf_ = np.asarray(part.idf)
        return v

    matrix = hstack([vectorizer(words).transform(texts), vectorizer(chars).transform(texts)]).tocsr()
    model = LinearSVC()
    model.coef_, model.intercept_, model.classes_ = fast.coef_t.T, fast.intercept, np.array(fast.classes)
    expected = model.decision_function(matrix)
    for text, row in zip(texts, expected, strict=True):
        assert np.allclose(fast.scores(text), row)


@pytest.mark.parametrize("text, intent, country, language", [
    ("q necesito pa pedir refugio en costa rica", "asylum", "CR", "es"),
    ("Kijan mwen ka mande azil nan Meksik?", "asylum", "MX", "ht"),
    ("help we are lost in the jungle", "emergency", None, "en"),
    ("je cherche du travail au panama", "work", "PA", "fr"),
    ("perdi meu passaporte no méxico", "documents", "MX", "pt"),
    ("ik zoek werk in suriname", "work", "SR", "nl"),
])
def test_understanding_examples(embedded, text, intent, country, language) -> None:  # type: ignore[no-untyped-def]
    found = embedded.understand(text, language="es")
    assert (found.intent, found.country, found.language) == (intent, country, language)
    assert found.engine == "embedded" and 0 < found.confidence <= 1


def test_a_long_message_is_judged_by_its_beginning(embedded) -> None:  # type: ignore[no-untyped-def]
    """Its first characters tell the language: a 1,600-character message costs no more than a tweet to detect."""
    from app.understanding.embedded import DETECT_CHARS

    opening = "hola buenas, necesito ayuda con mis papeles de refugio y no se a donde ir, "
    text = opening * (DETECT_CHARS // len(opening) + 1) + "please help me with my asylum papers " * 30
    assert embedded.languages.detect(text)[0] == "es"


def test_short_messages_keep_the_current_language(embedded) -> None:  # type: ignore[no-untyped-def]
    assert embedded.detect_language("ok", current="ht") == "ht"
    assert embedded.detect_language("mwen bezwen ed pou jwenn papye", current="es") == "ht"


@pytest.mark.parametrize(("text", "current", "language"), [
    ("olá", "es", "pt"), ("Olá!", "es", "pt"),  # as written: Portuguese
    ("ola", "es", "es"), ("ola", "pt", "pt"),  # without the accent it is also a Spanish "hola": kept
    ("obrigada", "es", "pt"), ("dankuwel", "es", "nl"), ("mèsi", "es", "ht"),  # one word of one language
    ("socorro", "es", "es"), ("socorro", "pt", "pt"),  # Spanish and Portuguese alike: kept
    ("ok", "fr", "fr"), ("1", "nl", "nl"),
])
def test_one_word_switches_the_language_only_when_it_belongs_to_one(embedded, text: str, current: str,
                                                                    language: str) -> None:  # type: ignore[no-untyped-def]
    assert embedded.detect_language(text, current=current) == language


@pytest.mark.parametrize("address, language, country", [
    ("+50937001122", "ht", "HT"), ("whatsapp:+5215512345678", "es", "MX"), ("+59781234567", "nl", "SR"),
    ("+14734401234", "en", "GD"), ("+5511987654321", "pt", None), ("whatsapp:US.1234", "es", None),
])
def test_defaults_from_the_calling_code(address: str, language: str, country: str | None) -> None:
    assert defaults_for(address, default_language="es") == (language, country)


@pytest.mark.parametrize("text", ["nos tienen secuestrados", "help we are lost in the jungle", "yo kidnape frè m",
                                  "on m'oblige à travailler sans payer", "ik ben in gevaar", "me violaron"])
def test_danger_words(text: str) -> None:
    assert in_danger(text)


@pytest.mark.parametrize("text", ["mi esposo me pega todos los dias", "my husband beats me", "mari m bat mwen",
                                  "mon copain me frappe", "meu marido me espanca", "mijn vriend slaat mij",
                                  "mi pareja me insulta y me amenaza todo el dia", "my ex threatens me every night",
                                  "mari m ap menase m", "meu namorado me ameaça", "mijn man bedreigt mij"])
def test_violence_at_home_is_danger(text: str) -> None:
    assert in_danger(text)


@pytest.mark.parametrize("text", ["quiero trabajar", "hello", "mwen bezwen papye", "is the road dangerous?",
                                  "en mi pais me golpearon por ser gay, puedo pedir asilo?",  # a past told for asylum
                                  "e se a migração me pegar na rua?", "je me bats pour mes enfants",
                                  "me amenazaron de muerte en mi pais, califico como refugiado?"])
def test_no_false_danger(text: str) -> None:
    assert not in_danger(text)


def test_sexual_violence_words() -> None:
    for text in ("me violaron", "una violación en el camino", "I was raped", "j'ai été violée", "yo vyole m",
                 "ik ben verkracht", "fui estuprada", "abuso sexual"):
        assert sexual_violence(text), text
    for text in ("violencia domestica", "la violence conjugale", "un violin", "robbed on the bus"):
        assert not sexual_violence(text), text


def test_danger_first_gives_the_emergency_numbers_at_once(client) -> None:
    response = post_signed(client, form_of("whatsapp_text", MessageSid=new_sid(), From="whatsapp:+50760001111",
                                           Body="help we are lost in the jungle"))
    [reply] = messages_of(client, response.text)
    title = "*" + Texts("en", ROOT / "locales").gettext("Emergency numbers in {country}:", country="Panama") + "*"
    assert reply.startswith(title) and "911" in reply.split("\n\n")[0]


def test_free_text_answered_from_the_knowledge_base(client) -> None:
    body = client.post("/api/v1/messages", json={"sender": "+50688887777", "channel": "whatsapp",
                                                 "text": "q necesito pa pedir refugio en costa rica"}).json()
    u = body["understanding"]
    assert (u["intent"], u["topic"], u["country"], u["language"], u["engine"]) == \
        ("asylum", "asylum", "CR", "es", "embedded")
    kb = client.app.state.knowledge.get()
    # a specific entry of Costa Rica when one matches, else the topic overview
    answer = kb.entry_answer(u["entry"], "es", "CR") if u["entry"] else kb.answer("asylum", "CR", "es")
    assert kb.entry_scope.get(u["entry"], "CR") == "CR"
    assert body["replies"][0]["text"].startswith(answer.whatsapp[:80])


def test_language_is_detected_and_remembered(client) -> None:
    first = client.post("/api/v1/messages", json={"sender": "+5215500000001", "channel": "whatsapp",
                                                  "text": "I need a job, where can I work legally"}).json()
    assert first["understanding"]["language"] == "en"
    again = client.post("/api/v1/messages", json={"sender": "+5215500000001", "channel": "whatsapp",
                                                  "text": "ok"}).json()
    assert again["understanding"]["language"] == "en"


def test_country_asked_with_a_menu_when_unknown(client) -> None:
    # the asylum overview depends on the country: on SMS it is asked with the 11 codes on one line
    body = client.post("/api/v1/messages", json={"sender": "+5511987654321", "channel": "sms",
                                                 "text": "ASILO"}).json()
    assert body["understanding"]["topic"] == "asylum" and body["understanding"]["country"] is None
    assert "BZ CR DO SV GD GT HT HN MX PA SR" in body["replies"][0]["text"] and "11. " not in body["replies"][0]["text"]
    choice = client.post("/api/v1/messages", json={"sender": "+5511987654321", "channel": "sms", "text": "MX"}).json()
    assert (choice["understanding"]["topic"], choice["understanding"]["country"]) == ("asylum", "MX")
    whatsapp = client.post("/api/v1/messages", json={"sender": "+5511987654329", "channel": "whatsapp",
                                                     "text": "ASILO"}).json()
    assert "11. " in whatsapp["replies"][0]["text"]  # WhatsApp: the names, numbered


def test_out_of_scope_is_logged_as_unanswered(client) -> None:
    from sqlalchemy import select
    from sqlmodel import Session

    from app.storage.models import Message

    client.post("/api/v1/messages", json={"sender": "+5215500000002", "channel": "sms", "text": "hola"})
    body = client.post("/api/v1/messages", json={"sender": "+5215500000002", "channel": "sms",
                                                 "text": "quien gano el partido de futbol ayer, dime el marcador"}
                       ).json()
    assert body["understanding"]["intent"] == "out_of_scope"
    with Session(client.app.state.engine) as session:
        row = session.execute(select(Message).where(Message.direction == "in").order_by(Message.id.desc())).scalars().first()
    assert row.answered is False and "partido" in row.text


def test_dead_rasa_falls_back_to_the_embedded_engine(database_url: str) -> None:
    settings = make_settings(database_url, engine="rasa", rasa_url="http://127.0.0.1:9", rasa_timeout_seconds=1.0)
    with TestClient(create_app(settings), base_url=BASE) as client:
        body = client.post("/api/v1/messages", json={"sender": "+50688887777", "channel": "whatsapp",
                                                     "text": "necesito trabajo en costa rica"}).json()
        assert body["understanding"]["engine"] == "embedded" and body["understanding"]["topic"] in ("work", "asylum")
        assert client.app.state.assistant.understander.fallbacks == 1
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["engine"]["rasa_reachable"] is False


def test_rasa_action_protocol(client) -> None:
    tracker = {"sender_id": "x", "slots": {"country": None},
               "latest_message": {"text": "asilo", "intent": {"name": "asylum", "confidence": 0.97},
                                  "entities": [{"entity": "country", "value": "mejico"}],
                                  "metadata": {"language": "es", "channel": "sms"}}}
    token = {"token": client.app.state.settings.action_token}  # what Rasa sends (bot/endpoints.yml)
    response = client.post("/rasa/webhook", params=token, json={"next_action": "action_answer", "sender_id": "x",
                                                                "tracker": tracker, "domain": {}, "version": "3.6.21"})
    assert response.status_code == 200
    body = response.json()
    [message] = body["responses"]
    assert message["custom"]["understanding"] == {"intent": "asylum", "topic": "asylum", "country": "MX",
                                                  "language": "es", "confidence": 0.97}
    assert message["text"] == client.app.state.knowledge.get().answer("asylum", "MX", "es").whatsapp
    assert body["events"] == [{"event": "slot", "name": "country", "value": "MX"}]
    unknown = client.post("/rasa/webhook", params=token, json={"next_action": "action_nope", "tracker": tracker})
    assert unknown.status_code == 404 and unknown.json()["action_name"] == "action_nope"
    assert client.post("/rasa/webhook", params=token, content=b"not json").status_code == 400


def test_eval_command_prints_the_figures(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run([str(Path(sys.executable).parent / "migrantinfo"), "eval"], capture_output=True,
                            text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for label in ("intent accuracy", "macro-F1", "accuracy ht", "country accuracy", "language detection",
                  "latency p99"):
        assert label in result.stdout


def test_rasa_country_lookup_knows_every_spelling_of_the_content() -> None:
    import yaml

    lookup = yaml.safe_load((ROOT / "bot" / "data" / "lookup_country.yml").read_text())["nlu"][0]
    spellings = {line.strip()[2:] for line in lookup["examples"].splitlines() if line.strip()}
    for path in (ROOT / "content" / "countries").glob("*.yaml"):
        country = yaml.safe_load(path.read_text())
        for name in [*country["names"].values(), *country.get("aliases", [])]:
            assert str(name).lower() in spellings, (path.name, name)


def test_eval_refuses_rasa_figures_the_embedded_engine_gave(tmp_path: Path) -> None:
    """A Rasa that answers its REST channel with no understanding (as it does when the app's action server is not
    running) makes the app fall back to the embedded engine: eval says so and fails, rather than print the
    embedded engine's figures under Rasa's name."""
    import json
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Rasa(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _json(self, body: object) -> None:
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:  # noqa: N802
            self._json({"version": "3.6.21"})

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/model/parse":
                return self._json({"intent": {"name": "asylum", "confidence": 0.9}, "entities": []})
            self._json([])  # the REST channel: the action failed, nothing to say

    server = ThreadingHTTPServer(("127.0.0.1", 0), Rasa)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = subprocess.run([str(Path(sys.executable).parent / "migrantinfo"), "eval", "--engine", "rasa"],
                                capture_output=True, text=True, timeout=300, cwd=tmp_path,
                                env={**os.environ, "RASA_URL": f"http://127.0.0.1:{server.server_address[1]}"})
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "these figures are not its own" in result.stderr
    fallback_row = next(line for line in result.stdout.splitlines() if line.startswith("answered by the fallback"))
    assert int(fallback_row.split()[-1]) > 0


def test_an_entry_of_another_topic_than_a_surely_read_one_must_be_surer() -> None:
    """Asylum read at 0.98 and an emergency entry found at 0.52 (a city's name in both): not answered, offered."""
    from app.knowledge.retrieval import Match
    from app.messages import Understanding
    from app.understanding.entries import DISAGREE_AT, pick_entry

    def read(topic: str, confidence: float) -> Understanding:
        return Understanding(intent=topic, language="nl", topic=topic, country="SR", confidence=confidence,
                             engine="embedded", answered=True)

    found = [Match("sr-emergency-115", "emergency", 0.32, 0.52), Match("sr-refugee-permit", "asylum", 0.30, 0.34)]
    sure = pick_entry(read("asylum", 0.98), "ik ben in paramaribo en wil asiel", lambda text, countries: found,
                      answer_at=0.4, offer_at=0.22)
    assert sure.entry is None and sure.choices == ("sr-emergency-115", "sr-refugee-permit")
    other = [Match("sr-residence-fees", "regularization", 0.32, 0.52), Match("sr-refugee-permit", "asylum", 0.30, 0.34)]
    unsure = pick_entry(read("asylum", 0.6), "ik ben in paramaribo en wil asiel", lambda text, countries: other,
                        answer_at=0.4, offer_at=0.22)
    assert unsure.entry == "sr-residence-fees"  # the engine was not sure either: the entry's own confidence decides
    # but an emergency number's entry for a message read as another topic must be sure, however unsure the
    # reading: "how do I get papers here" sharing words with "can I call 911 without papers" is not an emergency
    papers = pick_entry(read("regularization", 0.47), "kijan pou m jwenn papye nan dominikani",
                        lambda text, countries: found, answer_at=0.4, offer_at=0.22)
    assert papers.entry is None and papers.choices == ("sr-emergency-115", "sr-refugee-permit")
    sure_number = [Match("sr-emergency-115", "emergency", 0.27, 0.79)]
    beaten = pick_entry(read("services", 0.52), "mijn man slaat me, welk nummer bel ik",
                        lambda text, countries: sure_number, answer_at=0.4, offer_at=0.22)
    assert beaten.entry == "sr-emergency-115"
    agreeing = pick_entry(read("emergency", 0.98), "noodgeval paramaribo", lambda text, countries: found,
                          answer_at=0.4, offer_at=0.22)
    assert agreeing.entry == "sr-emergency-115" and 0.52 < DISAGREE_AT


def test_an_action_read_unsurely_yields_to_an_entry_matched_surely() -> None:
    """'A person' read at 0.52 while a helpline's entry matches at 0.79: the question is answered; 'a person'
    read surely, or an entry matched less surely than the action was read, keeps the action."""
    from app.knowledge.retrieval import Match
    from app.messages import Understanding
    from app.understanding.entries import SURE_ACTION, pick_entry

    def read(confidence: float) -> Understanding:
        return Understanding(intent="human", language="nl", topic=None, country="SR", confidence=confidence,
                             engine="embedded", answered=False)

    helpline = [Match("sr-child-helpline-123", "family", 0.34, 0.79), Match("sr-emergency-115", "emergency", 0.26, 0.12)]
    asked = lambda text, countries: helpline  # noqa: E731
    unsure = pick_entry(read(0.52), "welk nummer kan ze bellen", asked, answer_at=0.4, offer_at=0.22)
    assert unsure.entry == "sr-child-helpline-123" and unsure.intent == "family"
    sure = pick_entry(read(SURE_ACTION), "ik wil met iemand praten", asked, answer_at=0.4, offer_at=0.22)
    assert sure.entry is None and sure.intent == "human"
    # a long message says more than an action: "a person" read surely yields there too, to a surer entry
    long = pick_entry(read(0.7), "hallo, mijn dochter wil anoniem met iemand praten over thuis, welk nummer belt ze",
                      asked, answer_at=0.4, offer_at=0.22)
    assert long.entry == "sr-child-helpline-123" and long.intent == "family"
    weaker = [Match("sr-child-helpline-123", "family", 0.34, 0.5)]
    kept = pick_entry(read(0.55), "iemand", lambda text, countries: weaker, answer_at=0.4, offer_at=0.22)
    assert kept.entry is None and kept.intent == "human"


def test_the_remembered_country_is_searched_when_the_named_one_has_no_answer() -> None:
    """Written from Guatemala, 'deported from Mexico' names Mexico: when none of Mexico's entries answers, those of
    both countries are searched; a country named and answering ('asiel in suriname') is searched alone."""
    from dataclasses import replace

    from app.knowledge.retrieval import Match
    from app.messages import Understanding
    from app.understanding.entries import pick_entry

    searched: list[tuple[str | None, ...]] = []
    found = [Match("sr-refugee-permit", "asylum", 0.4, 0.8)]

    def search(text: str, countries: tuple[str | None, ...]) -> list:
        searched.append(countries)
        return found if countries == ("SR",) else []

    u = Understanding(intent="return", language="es", topic="return", country="MX", confidence=0.5,
                      engine="embedded", answered=True)
    pick_entry(u, "me deportan de mexico", search, answer_at=0.4, offer_at=0.22, remembered="GT")
    pick_entry(u, "me deportan", search, answer_at=0.4, offer_at=0.22, remembered="MX")
    pick_entry(replace(u, country=None), "me deportan", search, answer_at=0.4, offer_at=0.22)
    assert searched == [("MX",), ("MX", "GT"), ("MX",), (None,)]
    searched.clear()
    asiel = pick_entry(replace(u, country="SR"), "asiel in suriname", search, answer_at=0.4, offer_at=0.22,
                       remembered="MX")
    assert searched == [("SR",)] and asiel.entry == "sr-refugee-permit"


def test_a_question_rasa_reads_as_choosing_a_country_is_read_again(embedded) -> None:  # type: ignore[no-untyped-def]
    """Rasa reads many questions naming a country as choosing it ("how do I get papers in the Dominican Republic"
    at 0.99): where the embedded engine reads a topic, the topic stands; "I am in Panama" stays a choice."""
    from app.messages import Understanding
    from app.understanding.router import Understander

    class ChoosingRasa:
        name = "rasa"

        def understand(self, text: str, **values: object) -> Understanding:
            return Understanding(intent="choose_country", language="ht", country="DO", confidence=0.99,
                                 engine="rasa", answered=True)

        def close(self) -> None: ...

    understander = Understander(embedded, ChoosingRasa())  # type: ignore[arg-type]
    question = understander.understand("kijan pou m jwenn papye pou m rete legal nan Repiblik Dominikèn",
                                       sender="s", channel="whatsapp", language="ht", country=None)
    assert (question.intent, question.topic, question.country, question.engine) == \
        ("regularization", "regularization", "DO", "rasa")
    said = understander.understand("m nan Repiblik Dominikèn", sender="s", channel="whatsapp", language="ht",
                                   country=None)
    assert (said.intent, said.topic, said.country) == ("choose_country", None, "DO")


def test_a_countrys_entry_nearly_as_close_as_a_regional_one_goes_first() -> None:
    """'Free calls home' (regional) at 0.33 and El Salvador's Red Cross calls at 0.29, same topic: El Salvador's
    goes first with the regional one's score and confidence; of another topic, or too far, it stays second."""
    import numpy as np

    from app.knowledge.retrieval import LOCAL_FIRST, EntryIndex, Match

    index = EntryIndex.__new__(EntryIndex)
    index.scope = [None, "SV", "SV"]
    regional = Match("region-red-cross-free-calls", "missing", 0.33, 0.75)
    local = Match("sv-red-cross-family-calls", "missing", 0.29, 0.15)
    other = Match("sv-returnees-reception", "return", 0.32, 0.2)
    order = np.array([0, 1, 2])
    first = index._local_first([regional, local, other], order)
    assert [m.entry for m in first] == ["sv-red-cross-family-calls", "region-red-cross-free-calls",
                                        "sv-returnees-reception"]
    assert (first[0].score, first[0].confidence) == (0.33, 0.75)
    assert index._local_first([regional, other, local], np.array([0, 2, 1]))[0] == local.__class__(
        "sv-red-cross-family-calls", "missing", 0.33, 0.75)  # past an entry of another topic
    far = Match("sv-red-cross-family-calls", "missing", round(0.33 - LOCAL_FIRST - 0.01, 2), 0.1)
    assert index._local_first([regional, far], np.array([0, 1]))[0] == regional
    assert index._local_first([other, regional], np.array([2, 0]))[0] == other  # a country's entry first stays


def test_the_classifier_orders_the_closest_entries_again_by_the_words_that_tell_them_apart() -> None:
    """Two entries share their words ("onpar certificate") and differ by one ("work"): a message near the
    certificate's phrasings by similarity, but asking to work, gets the work entry first; a message about the
    certificate keeps it; an entry the similarity did not find is never brought in."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from app.knowledge.rerank import Reranker

    phrasings = {
        0: ["what is the onpar certificate for", "i lost my onpar certificate", "do i always carry the onpar "
            "certificate", "the onpar certificate has my photo and a qr code", "my onpar certificate got wet"],
        1: ["can i work while i wait", "can i work with the onpar certificate", "a boss wants me to work while i "
            "wait for onpar", "work permit while waiting", "i need to work to pay the rent"],
        2: ["how do i appeal a refusal", "onpar said no, can i appeal", "deadline to appeal the refusal"],
    }
    texts = [text for entry in phrasings.values() for text in entry]
    labels = np.array([entry for entry, some in phrasings.items() for _ in some])
    vectorizer = TfidfVectorizer(sublinear_tf=True)
    reranker = Reranker(vectorizer.fit_transform(texts).tocsr(), labels, 3)

    def features(text: str) -> tuple[np.ndarray, np.ndarray]:
        row = vectorizer.transform([text]).tocsr()
        return row.indices, row.data

    similar = np.array([0.40, 0.36, 0.10])  # the certificate a little nearer, as its phrasings share more words
    both = np.array([0, 1, 2])
    assert both[reranker.first(both, similar, *features("onpar certificate, can i work"))] == 1
    assert both[reranker.first(both, similar, *features("i lost the onpar certificate"))] == 0
    # the appeal entry, not among the candidates, stays out whatever the message says
    assert reranker.first(np.array([0, 1]), similar, *features("can i appeal the refusal")) in (0, 1)
    assert reranker.first(np.array([1]), similar, *features("work")) == 0  # one candidate: as it was
