"""The console's Content page: coverage matrix, answers previewed as sent, validation errors, reload."""

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.channels.render import sms_info, sms_pages, split_whatsapp, to_gsm7
from app.config import ROOT
from app.console import auth
from app.i18n import Texts
from app.main import create_app
from tests.conftest import BASE, make_settings
from tests.console.test_console import PASSWORD, csrf_of, log_in

SMS_PAGE = re.compile(r'<pre class="message sms" data-segments="(\d+)" data-encoding="([^"]+)" '
                      r'data-units="(\d+)">(.*?)</pre>', re.S)
WHATSAPP_PART = re.compile(r'<pre class="message whatsapp" data-chars="(\d+)">(.*?)</pre>', re.S)


def user(client: TestClient, name: str, role: str) -> str:
    auth.add_user(client.app.state.engine, name=name, password=PASSWORD, role=role)
    assert log_in(client, name).status_code == 303
    return name


def sections(page: str) -> list[str]:
    return page.split('<section class="preview')[1:]


@pytest.fixture
def content(tmp_path: Path) -> Path:
    return shutil.copytree(ROOT / "content", tmp_path / "content")


@pytest.fixture
def own_client(database_url: str, content: Path) -> Iterator[TestClient]:
    """An app serving a copy of content/ that the test may break; no watcher, so only the button reloads."""
    settings = make_settings(database_url, content_dir=content, content_watch_seconds=0)
    with TestClient(create_app(settings), base_url=BASE) as test_client:
        yield test_client


def test_login_is_required(client) -> None:
    for path in ("/console/content", "/console/content/answer?topic=asylum&country=MX&language=es"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/login"
    assert client.post("/console/content/reload", follow_redirects=False).status_code == 401


def test_matrix_shows_the_statuses_of_a_country(client) -> None:
    user(client, "edi", "editor")
    page = client.get("/console/content?country=mx&lang=en")
    assert page.status_code == 200
    text = page.text
    assert "MX · Mexico" in text and 'value="MX" selected' in text
    cells = re.findall(r'<td class="st-(\w+)" data-language="(\w+)" data-status="\w+">\s*<a href="([^"]+)"', text)
    assert len(cells) == 14 * 6  # every topic in every language
    assert {status for status, _, _ in cells} == {"present", "fallback"}
    assert ("present", "es", "/console/content/answer?topic=asylum&amp;country=MX&amp;language=es") in cells
    assert ("fallback", "fr", "/console/content/answer?topic=asylum&amp;country=MX&amp;language=fr") in cells
    assert ">fallback → en <strong>*</strong>" not in text and "fallback → en" in text  # nl is not required in MX
    kb = client.app.state.knowledge.get()
    assert kb.version in text and "No errors." in text
    assert "Reload content" not in text  # editors do not reload
    default = client.get("/console/content?lang=en").text  # one country at a time, the first by default
    assert 'value="BZ" selected' in default and "BZ · Belize" in default


def test_statuses_follow_the_files(own_client, content: Path) -> None:
    user(own_client, "edi", "editor")
    answers = content / "answers"
    for name, topic in (("MX", "asylum"), ("regional", "asylum"), ("regional", "education")):
        path = answers / f"{name}.yaml"  # asylum: only MX's draft is left; education: nothing at all
        path.write_text(path.read_text().replace(f"topic: {topic}\n    status: published",
                                                 f"topic: {topic}\n    status: draft", 1))
    path = answers / "MX.yaml"
    path.write_text(path.read_text().replace("topic: regularization\n    status: published\n    last_reviewed: "
                                             "2026-11-29", "topic: regularization\n    status: published\n"
                                             "    last_reviewed: 2025-01-02", 1))
    page = own_client.get("/console/content?country=MX&lang=en").text
    spanish = {topic: status for status, topic in re.findall(
        r'data-language="es" data-status="(\w+)">\s*<a href="/console/content/answer\?topic=(\w+)', page)}
    assert spanish["asylum"] == "draft" and spanish["regularization"] == "stale"
    assert spanish["education"] == "missing" and spanish["work"] == "present"
    for label in ("draft", "not reviewed", "missing"):  # a text, not only a colour
        assert f">{label} <strong>*</strong>" in page
    assert "not served yet" in page
    assert re.search(r"content/answers/MX\.yaml:\d+: regularization: not reviewed for \d+ days: check it", page)


def test_answer_preview_is_what_the_assistant_sends(client) -> None:
    user(client, "edi", "editor")
    page = client.get("/console/content/answer?topic=asylum&country=MX&language=es&lang=en")
    assert page.status_code == 200
    served = sections(page.text)[0]
    settings = client.app.state.settings
    answer = client.app.state.knowledge.get().answer("asylum", "MX", "es")
    pages = sms_pages([answer.sms], language="es", settings=settings)
    shown = SMS_PAGE.findall(served)
    assert [html.unescape(text) for *_, text in shown] == pages
    for (segments, encoding, units, text), expected in zip(shown, pages, strict=True):
        info = sms_info(html.unescape(text))
        assert (int(segments), encoding, int(units)) == (info.segments, info.encoding, info.units)
        assert info == sms_info(expected) and info.segments <= settings.sms_max_segments
        assert "*" not in html.unescape(text)  # no WhatsApp bold on SMS
    parts = WHATSAPP_PART.findall(served)
    assert len(parts) == 1
    whatsapp = html.unescape(parts[0][1])
    menu = Texts("es", settings.locales_dir).gettext("Write MENU for other topics.")
    assert whatsapp == f"{answer.whatsapp}\n\n{menu}" and whatsapp.startswith("*Pedir refugio en México*")
    assert int(parts[0][0]) == len(whatsapp)
    assert "https://help.unhcr.org/mexico/" in served and "2026-11-29" in served
    assert "Migrantinfo content team" in served and "the country's own answer (MX)" in served
    assert "published" in served and "fallback:" not in served


def test_preview_matches_the_pipeline_on_both_channels(database_url: str) -> None:
    """Cut into one-segment pages, the preview's pages are the ones the assistant sends, MORE after MORE."""
    settings = make_settings(database_url, sms_max_segments=1, content_watch_seconds=0)
    with TestClient(create_app(settings), base_url=BASE) as client:
        user(client, "edi", "editor")
        served = sections(client.get("/console/content/answer?topic=asylum&country=MX&language=es").text)[0]
        pages = [html.unescape(text) for *_, text in SMS_PAGE.findall(served)]
        assert len(pages) > 2 and all(sms_info(p).segments == 1 for p in pages)
        hint = to_gsm7(Texts("es", settings.locales_dir).gettext("Reply MORE for more."))
        assert all(p.endswith("\n" + hint) for p in pages[:-1]) and not pages[-1].endswith(hint)
        sent = []
        for text in ("ASILO MX", *["MAS"] * (len(pages) - 1)):
            reply = client.post("/api/v1/messages", json={"sender": "+5215511112222", "text": text, "channel": "sms"})
            sent += [r["text"] for r in reply.json()["replies"]]
        assert sent == pages
        parts = [html.unescape(text) for _, text in WHATSAPP_PART.findall(served)]
        reply = client.post("/api/v1/messages", json={"sender": "+5215533334444", "text": "ASILO MX",
                                                       "channel": "whatsapp"})
        assert [r["text"] for r in reply.json()["replies"]] == parts
        assert parts == split_whatsapp("\n\n".join(parts), limit=settings.whatsapp_max_chars)


def test_preview_says_where_the_answer_comes_from(client) -> None:
    user(client, "edi", "editor")
    fallback = sections(client.get("/console/content/answer?topic=asylum&country=MX&language=fr&lang=en").text)[0]
    assert "fallback: not yet written in fr" in fallback and "(Cette réponse n&#39;est pas encore en français.)" \
        in fallback
    kb = client.app.state.knowledge.get()
    topic = next(t.id for t in kb.topics if kb.entry(t.id, "GD")[0] is None and kb.entry(t.id, None)[1])
    regional = client.get(f"/console/content/answer?topic={topic}&country=GD&language=en&lang=en").text
    assert "the regional answer (no answer of GD)" in regional
    assert client.get("/console/content/answer?topic=nope&country=MX&language=es").status_code == 404
    assert client.get("/console/content/answer?topic=asylum&country=XX&language=es").status_code == 404


def test_a_draft_is_previewed_as_it_would_be_sent(own_client, content: Path) -> None:
    user(own_client, "edi", "editor")
    path = content / "answers" / "MX.yaml"
    text = path.read_text().replace("topic: asylum\n    status: published", "topic: asylum\n    status: draft", 1)
    path.write_text(text.replace("Refugio en México: decide la COMAR.", "Refugio en México (borrador).", 1))
    page = own_client.get("/console/content/answer?topic=asylum&country=MX&language=es&lang=en").text
    served, draft = sections(page)
    assert "The files have changed since version" in page
    assert "decide la COMAR" in served and "borrador" not in served  # still served until a reload
    assert "Draft, as it would be sent once published" in draft and "Refugio en México (borrador)." in draft
    assert "<td>draft</td>" in draft


def test_editors_cannot_reload(client) -> None:
    user(client, "edi", "editor")
    response = client.post("/console/content/reload", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert response.status_code == 403


def test_reload_needs_the_csrf_token(client) -> None:
    user(client, "ana", "operator")
    assert client.post("/console/content/reload", data={}, follow_redirects=False).status_code == 403
    forged = client.post("/console/content/reload", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403


def test_operator_reloads_and_broken_content_is_refused(own_client, content: Path) -> None:
    user(own_client, "ana", "operator")
    knowledge = own_client.app.state.knowledge
    page = own_client.get("/console/content?country=MX&lang=en").text
    assert "Reload content" in page
    token = csrf_of(own_client)

    path = content / "answers" / "MX.yaml"
    path.write_text(path.read_text().replace("Refugio en México: decide la COMAR.", "Refugio: decide la COMAR.", 1))
    done = own_client.post("/console/content/reload", data={"csrf_token": token, "country": "MX"},
                           follow_redirects=False)
    assert done.status_code == 303
    version = knowledge.get().version
    assert done.headers["location"] == f"/console/content?country=MX&reloaded={version}"
    shown = own_client.get(done.headers["location"] + "&lang=en").text
    assert f"Reloaded: now serving version {version}." in shown and "MX · Mexico" in shown
    assert "Refugio: decide la COMAR." in knowledge.get().answer("asylum", "MX", "es").sms

    path.write_text(path.read_text().replace("topic: asylum", "topic: asilo", 1))
    refused = own_client.post("/console/content/reload?lang=en", data={"csrf_token": token, "country": "MX"})
    assert refused.status_code == 422
    assert f"Reload refused: the files have errors (listed below). Still serving version {version}." in refused.text
    assert re.search(r"content/answers/MX\.yaml:\d+: unknown topic &#39;asilo&#39;: use a topic id", refused.text)
    assert knowledge.get().version == version and knowledge.last_error is not None
    later = own_client.get("/console/content?country=MX&lang=en").text
    refused_list = later.split('id="refused"')[1].split("</ul>")[0]
    assert re.search(r"content/answers/MX\.yaml:\d+: unknown topic", refused_list)
    assert "Reloaded:" not in own_client.get(f"/console/content?reloaded={version}x").text
    reply = own_client.post("/api/v1/messages", json={"sender": "+5215512345678", "text": "ASILO MX",
                                                      "channel": "whatsapp"}).json()
    assert "COMAR" in reply["replies"][0]["text"]  # the last good version keeps serving


def test_admins_reload_too(client) -> None:
    user(client, "root", "admin")
    response = client.post("/console/content/reload", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/console/content?reloaded=")


def test_a_folder_named_like_a_yaml_file_is_listed_and_refused(own_client, content: Path) -> None:
    user(own_client, "ana", "operator")
    version = own_client.app.state.knowledge.get().version
    (content / "countries" / "xx.yaml").mkdir()
    error = "content/countries/xx.yaml:1: a folder named like a YAML file"
    page = own_client.get("/console/content?country=MX&lang=en")
    assert page.status_code == 200 and error in page.text
    refused = own_client.post("/console/content/reload?lang=en", data={"csrf_token": csrf_of(own_client),
                                                                        "country": "MX"})
    assert refused.status_code == 422 and error in refused.text
    assert f"Still serving version {version}." in refused.text


def test_the_content_page_lists_entries_with_their_evidence_and_untested_numbers(client) -> None:
    user(client, "edi", "editor")
    text = client.get("/console/content?country=MX&lang=en").text
    kb = client.app.state.knowledge.get()
    mexican = [e for e in kb.entries_for("MX") if kb.entry_scope[e.id] == "MX"]
    assert mexican and all(f'data-entry="{e.id}"' in text for e in mexican)
    assert "Numbers not call-tested" in text
    untested = re.search(r'<ul id="untested-numbers">(.*?)</ul>', text, re.S).group(1)
    assert "911" in untested and "800 5533 000" in untested


def test_an_answer_with_quoted_sources_shows_its_quotes(client) -> None:
    user(client, "edi", "editor")
    kb = client.app.state.knowledge.get()
    answer = kb.entry("asylum", "MX")[0]
    quoted = [s for s in answer.sources if getattr(s, "quote", None)]
    assert quoted, "the Mexican asylum answer quotes its deadline"
    page = client.get("/console/content/answer?topic=asylum&country=MX&language=es&lang=en").text
    assert html.escape(quoted[0].quote, quote=False) in page or quoted[0].quote[:40] in html.unescape(page)
