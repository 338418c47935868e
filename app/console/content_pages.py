"""Console: Content. The coverage matrix, answers previewed as they are sent, validation errors, reload.

The matrix and the validation describe the files in content/ now; the previews show what the assistant serves
(the last good version), and a draft as it would be sent once published.
"""

import dataclasses
from collections import Counter
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import KnowledgeDep, SettingsDep
from app.channels.render import SmsInfo, sms_info, sms_pages, whatsapp_parts
from app.config import Settings
from app.console import auth
from app.console.views import AnyRole, ConsoleRoute, console_language, render, role
from app.conversation.dialogue import answer_texts
from app.i18n import LANGUAGES, Texts
from app.knowledge.base import Answer, KnowledgeBase
from app.knowledge.checks import check
from app.knowledge.entry_report import entry_rows, number_rows
from app.knowledge.live import LiveKnowledge, fingerprint
from app.knowledge.loader import ContentError, Document, Problem, RawContent, load_content
from app.knowledge.report import Cell, coverage
from app.knowledge.schema import COUNTRY_CODES, TOPIC_IDS, AnswerEntry, AnswersFile

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)
Operator = Annotated[auth.Account, Depends(role("operator", "admin"))]
STATUSES = ("present", "fallback", "stale", "draft", "missing")
RELOADERS = ("operator", "admin")


# --- rendering, as the pipeline does it -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Preview:
    """One answer as it is (or would be) sent on each channel, with where it comes from."""

    kind: str  # served | draft
    answer: Answer | None
    entry: AnswerEntry | None  # the entry whose text is sent (the country's or the regional one)
    appended: AnswerEntry | None  # a regional entry appended to the country's answer
    sms: list[tuple[str, SmsInfo]]
    whatsapp: list[tuple[str, int]]


def preview(kb: KnowledgeBase, topic: str, country: str, language: str, settings: Settings,
            kind: str = "served") -> Preview:
    answer, whatsapp, sms = answer_texts(kb, topic, country, Texts(language, settings.locales_dir))
    own, regional = kb.entry(topic, country)
    entry = (own or regional) if answer else None
    appended = regional if answer and own and own.regional == "append" and regional \
        and answer.language in regional.texts else None
    return Preview(kind, answer, entry, appended,
                   [(page, sms_info(page)) for page in sms_pages(sms, language=language, settings=settings)],
                   [(part, len(part)) for part in whatsapp_parts(whatsapp, settings=settings)])


def draft_previews(raw: RawContent, topic: str, country: str, language: str, settings: Settings) -> list[Preview]:
    """The country's drafts on a topic, each sent as it would be once published (in place of any other entry)."""
    doc = raw.answers.get(country)
    if doc is None:
        return []
    result = []
    for draft in (e for e in doc.model.answers if e.topic == topic and e.status == "draft"):
        entries = [e for e in doc.model.answers if e.topic != topic] + [draft.model_copy(update={"status": "published"})]
        trial = dataclasses.replace(raw, answers={**raw.answers, country: Document(doc.path, doc.lines,
                                                                                   AnswersFile(answers=entries))})
        shown = preview(KnowledgeBase(trial, locales_dir=settings.locales_dir), topic, country, language, settings,
                        kind="draft")
        result.append(dataclasses.replace(shown, entry=draft) if shown.entry is not None else shown)
    return result


# --- the files on disk ----------------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _parsed(content_dir: Path, stamp: str) -> RawContent:
    return load_content(content_dir)


def disk_content(content_dir: Path) -> RawContent:
    """content/ as it is now, parsed again only when a file changed (names, sizes, modification times)."""
    return _parsed(content_dir, fingerprint(content_dir))


def names_of(raw: RawContent, language: str) -> tuple[dict[str, str], dict[str, str]]:
    """Topic and country names in the console's language, from the files."""
    topics = {t.id: t.names.get(language) or t.names.get("en") or t.id
              for t in (raw.topics.model.topics if raw.topics else [])}
    countries = {code: doc.model.names.get(language) or doc.model.names.get("en") or code
                 for code, doc in raw.countries.items()}
    return topics, countries


@dataclasses.dataclass(frozen=True)
class Served:
    version: str | None
    loaded_at: datetime | None
    refused: list[Problem]  # the problems of the last refused reload, if the last reload was refused


def served(knowledge: LiveKnowledge) -> Served:
    return Served(knowledge.get().version if knowledge.ready else None, knowledge.loaded_at,
                  knowledge.last_error.problems if knowledge.last_error else [])


# --- pages ----------------------------------------------------------------------------------------------------

def content_values(settings: Settings, knowledge: LiveKnowledge, country: str | None, language: str) -> dict:
    raw = disk_content(settings.content_dir)
    cells = coverage(raw)
    problems = check(raw, locales_dir=settings.locales_dir)
    code = (country or "").upper()
    code = code if code in COUNTRY_CODES else COUNTRY_CODES[0]
    topic_names, country_names = names_of(raw, language)
    counts = {c: Counter(cell.status for cell in cells if cell.country == c) for c in COUNTRY_CODES}
    gaps = Counter(c.country for c in cells if c.required and c.status not in ("present", "stale"))
    rows: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.country == code:
            rows.setdefault(cell.topic, []).append(cell)
    return dict(
        country=code, countries=COUNTRY_CODES, country_names=country_names, topic_names=topic_names,
        counts=counts, gaps=gaps, rows=rows, languages=LANGUAGES, statuses=STATUSES,
        errors=[p for p in problems if not p.warning], warnings=[p for p in problems if p.warning],
        disk_version=raw.version, served=served(knowledge),
        entries=[r for r in entry_rows(raw) if r.scope == code],
        untested=[n for n in number_rows(raw) if n.country == code and not n.call_tested],
    )


async def content_page(request: Request, account: auth.Account, settings: Settings, knowledge: LiveKnowledge, *,
                       country: str | None, status: int = 200, notice: str | None = None,
                       refused: ContentError | None = None) -> HTMLResponse:
    language = console_language(request)
    values = await anyio.to_thread.run_sync(content_values, settings, knowledge, country, language)
    return render(request, "content.html", status=status, account=account, can_reload=account.role in RELOADERS,
                  reloaded=notice if notice and notice == values["served"].version else None,
                  refused=refused, **values)


@router.get("/content")
async def content(request: Request, account: AnyRole, settings: SettingsDep, knowledge: KnowledgeDep,
                  country: str | None = None, reloaded: str | None = None) -> HTMLResponse:
    return await content_page(request, account, settings, knowledge, country=country, notice=reloaded)


@router.post("/content/reload")
async def reload(request: Request, account: Operator, settings: SettingsDep, knowledge: KnowledgeDep,
                 country: Annotated[str, Form()] = "") -> Response:
    """Load content/ now; refused content shows its errors and the last good version keeps serving."""
    try:
        kb = await anyio.to_thread.run_sync(knowledge.reload)
    except ContentError as exc:
        return await content_page(request, account, settings, knowledge, country=country, status=422, refused=exc)
    query = {"country": country.upper()} if country.upper() in COUNTRY_CODES else {}
    return RedirectResponse(f"/console/content?{urlencode({**query, 'reloaded': kb.version})}", status_code=303)


def answer_values(settings: Settings, knowledge: LiveKnowledge, topic: str, country: str, language: str,
                  console: str) -> dict:
    raw = disk_content(settings.content_dir)
    kb = knowledge.get()
    cell = next((c for c in coverage(raw) if (c.country, c.topic, c.language) == (country, topic, language)), None)
    topic_names, country_names = names_of(raw, console)
    return dict(
        topic=topic, country=country, answer_language=language, languages=LANGUAGES, cell=cell,
        topic_name=topic_names.get(topic) or kb.topic_name(topic, console),
        country_name=country_names.get(country, country),
        previews=[preview(kb, topic, country, language, settings),
                  *draft_previews(raw, topic, country, language, settings)],
        sms_max_segments=settings.sms_max_segments, whatsapp_max_chars=settings.whatsapp_max_chars,
        disk_version=raw.version, served=served(knowledge),
    )


@router.get("/content/answer")
async def answer(request: Request, account: AnyRole, settings: SettingsDep, knowledge: KnowledgeDep,
                 topic: str, country: str, language: str) -> HTMLResponse:
    country = country.upper()
    known = topic in TOPIC_IDS or (knowledge.ready and knowledge.get().topic(topic) is not None)
    if not known or country not in COUNTRY_CODES or language not in LANGUAGES:
        raise HTTPException(status_code=404, detail="no such topic, country or language")
    values = await anyio.to_thread.run_sync(answer_values, settings, knowledge, topic, country, language,
                                            console_language(request))
    return render(request, "content_answer.html", account=account, **values)
