"""Insights: what people write about, what goes unanswered, opt-outs, erasures, delivery failures, fallbacks.

Counts are aggregated in the database (GROUP BY day and value, a few hundred rows back whatever the size of the
log); only the grouping of unanswered texts runs in Python, over the newest GROUP_LIMIT of them, because
folding accents and dropping common words cannot be written portably in SQL. Test messages (the console's
simulator) are left out everywhere.

On SQLite every transaction starts with BEGIN IMMEDIATE (app/storage/db.py), so even a read holds the writer lock: each
query runs on its own short connection, and a message being answered waits for one query at most.
"""

import csv
import io
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

import anyio
from babel import Locale
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Date, and_, case, cast, exists, func, literal_column, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement, Select

from app.api.deps import AssistantDep, EngineDep, KnowledgeDep
from app.console.views import AnyRole, ConsoleRoute, console_language, render
from app.knowledge.base import KnowledgeBase
from app.privacy import mask_text
from app.storage.models import Contact, DeliveryStatus, Message, utcnow

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

DIMENSIONS = ("channel", "country", "topic", "language", "engine")
EVENTS = {"opt_out": "opt_out", "erase_done": "erasure"}  # intent -> name in the CSV
FAILED = ("failed", "undelivered")
LOW_CONFIDENCE = 0.5
GROUP_LIMIT = 500  # the newest unanswered or low-confidence texts grouped in Python
SHOWN_GROUPS = 50
MAX_DAYS = 366
PERIODS = (7, 30, 90, 365)
COLORS = ("#0b4f6c", "#f4a259", "#5b8e7d", "#bc4b51", "#8e7dbe", "#20a4f3", "#8cb369", "#6c757d")
ERROR_DOCS = "https://www.twilio.com/docs/api/errors/"

# Very common words of the six languages, dropped before texts are compared (accents folded below).
STOP_WORDS = """
a al algo algun como con cual cuando de del donde el ella ellos en era es esa ese eso esta estan estoy este
esto fue ha hay hola gracias la las le les lo los me mi mis mucho muy mas ni no nos o para pero por porque
puedo puede que quien quiero se ser si sin sobre son su sus te tengo tiene tu un una uno unos usted y ya yo
favor buenas buenos dias tardes noches saber
about am an and are as at be but by can could do does for from get have hello hi how i if in is it me my
not of on or please so that the there this to was what when where which who why will with would you your
thanks thank want need know good morning
au aux avec bonjour ce ces comment dans des du elle est et il ils je la le leur ma mais merci moi mon ne
nous on ou par pas peux pour qu qui sa ses son sur ta tes toi ton tu une veux vous votre vos quoi suis
ak an bonswa bonjou e eske gen ka kapab ki kijan kisa kote li m mesi mwen nan nou ou pa pou sa se vle w yo
yon
ao aos as com da das do dos ela ele em entre estou eu isso isto mas meu minha na nas nao obrigado obrigada
oi ola os pela pelo posso qual quando quem sem seu sua tem um voce
aan bedankt bij dank dat die dit een en er graag hallo het hoe hoi ik je jij kan kun maar met mijn niet
om ook op te u van voor waar wat wie wil zijn alsjeblieft
"""
WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without accents: 'Dónde' -> 'donde'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


COMMON = frozenset(fold(word) for word in STOP_WORDS.split())


def similarity_key(text: str) -> str:
    """What a text is about: folded words, no punctuation, no common words nor single letters, plurals cut,
    in alphabetical order ('¿Dónde puedo vacunar a mi perro?' and 'vacunar perros donde' share one key)."""
    words = WORD.findall(fold(text))
    kept = {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in COMMON and len(w) > 1}
    return " ".join(sorted(kept)) if kept else " ".join(words)


def first_day(days: int, *, now: datetime | None = None) -> date:
    return (now or utcnow()).date() - timedelta(days=days - 1)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_of(engine: Engine) -> ColumnElement:
    """The UTC calendar day of a message, computed by the database."""
    if engine.dialect.name == "postgresql":
        # A literal, not a bound parameter: PostgreSQL would see two different $n in SELECT and GROUP BY.
        return cast(func.timezone(literal_column("'UTC'"), Message.created_at), Date)
    return func.date(Message.created_at)


def _day_text(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _inbound(since: datetime) -> tuple[ColumnElement, ...]:
    return Message.direction == "in", Message.test.is_(False), Message.created_at >= since  # type: ignore[attr-defined,operator]


def _problem() -> ColumnElement:
    """Unanswered, or answered by an engine with a low confidence (keywords are always sure)."""
    return or_(Message.answered.is_(False),  # type: ignore[union-attr]
               and_(Message.answered.is_(True), Message.confidence < LOW_CONFIDENCE,  # type: ignore[union-attr,operator]
                    Message.engine != "keywords"))


def _rows(engine: Engine, statement: Select) -> list:
    with engine.connect() as conn:  # one short connection per query (see the module's docstring)
        return list(conn.execute(statement).all())


def daily_counts(engine: Engine, since: datetime) -> dict[str, Counter]:
    """Inbound messages per (day, value) of each dimension, and opt-outs and erasures per day ("event")."""
    day = day_of(engine)
    counts: dict[str, Counter] = {}
    for dimension in DIMENSIONS:
        column = getattr(Message, dimension)
        rows = _rows(engine, select(day, column, func.count()).where(*_inbound(since)).group_by(day, column))
        counts[dimension] = Counter({(_day_text(d), value): n for d, value, n in rows})
    rows = _rows(engine, select(day, Message.intent, func.count())
                 .where(*_inbound(since), Message.intent.in_(EVENTS))  # type: ignore[union-attr]
                 .group_by(day, Message.intent))
    counts["event"] = Counter({(_day_text(d), EVENTS[intent]): n for d, intent, n in rows})
    return counts


def problem_totals(engine: Engine, since: datetime) -> tuple[int, int]:
    """All unanswered and low-confidence messages of the period (with or without a stored text)."""
    low = and_(Message.answered.is_(True), Message.confidence < LOW_CONFIDENCE,  # type: ignore[union-attr,operator]
               Message.engine != "keywords")
    row = _rows(engine, select(func.coalesce(func.sum(case((Message.answered.is_(False), 1), else_=0)), 0),  # type: ignore[union-attr]
                               func.coalesce(func.sum(case((low, 1), else_=0)), 0))
                .where(*_inbound(since), _problem()))[0]
    return int(row[0]), int(row[1])


@dataclass
class Group:
    """Unanswered or low-confidence texts that say the same thing."""

    key: str
    texts: list[str] = field(default_factory=list)  # distinct masked texts, newest first
    count: int = 0
    unanswered: int = 0
    low_confidence: int = 0
    languages: Counter = field(default_factory=Counter)
    last_seen: datetime | None = None

    @property
    def sample(self) -> str:
        return self.texts[0] if self.texts else ""


def problem_groups(engine: Engine, since: datetime, *, limit: int = GROUP_LIMIT) -> tuple[list[Group], int]:
    """The newest `limit` problem texts of the period grouped by similarity_key, largest groups first;
    and how many texts were grouped."""
    rows = _rows(engine, select(Message.text, Message.answered, Message.language, Message.created_at)
                 .where(*_inbound(since), Message.text.is_not(None), _problem())  # type: ignore[union-attr]
                 .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))  # type: ignore[union-attr]
    groups: dict[str, Group] = {}
    for text, answered, language, created_at in rows:
        masked = mask_text(text)  # stored masked already: masked again in case the rules grew since
        group = groups.setdefault(similarity_key(masked), Group(key=similarity_key(masked), last_seen=created_at))
        group.count += 1
        if answered:
            group.low_confidence += 1
        else:
            group.unanswered += 1
        if language:
            group.languages[language] += 1
        if masked not in group.texts:
            group.texts.append(masked)
    # Groups were made newest first, and the sort is stable: among equal counts, the most recent leads.
    return sorted(groups.values(), key=lambda g: -g.count), len(rows)


def opted_out_contacts(engine: Engine) -> int:
    """People opted out now; contacts seen only through the simulator are left out."""
    real = exists().where(Message.contact_id == Contact.id, Message.test.is_(False))  # type: ignore[attr-defined]
    return int(_rows(engine, select(func.count()).select_from(Contact)
                     .where(Contact.opted_out.is_(True), real))[0][0])  # type: ignore[attr-defined]


@dataclass
class Failure:
    code: int | None
    failed: int = 0
    undelivered: int = 0

    @property
    def total(self) -> int:
        return self.failed + self.undelivered


def delivery_failures(engine: Engine, since: datetime) -> list[Failure]:
    """Failed and undelivered messages of the period by Twilio ErrorCode, most frequent first.

    The simulator sends nothing through Twilio, so no status of a test message can be among them.
    """
    rows = _rows(engine, select(DeliveryStatus.error_code, DeliveryStatus.status, func.count())
                 .where(DeliveryStatus.status.in_(FAILED), DeliveryStatus.updated_at >= since)  # type: ignore[attr-defined]
                 .group_by(DeliveryStatus.error_code, DeliveryStatus.status))
    failures: dict[int | None, Failure] = {}
    for code, status, n in rows:
        failure = failures.setdefault(code, Failure(code))
        if status == "failed":
            failure.failed += n
        else:
            failure.undelivered += n
    return sorted(failures.values(), key=lambda f: (-f.total, f.code if f.code is not None else -1))


# --- presentation ---------------------------------------------------------------------------------------

def day_list(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def per_day(counts: Counter) -> dict[str, Counter]:
    """value -> day -> count, from (day, value) -> count."""
    series: dict[str, Counter] = defaultdict(Counter)
    for (day, value), n in counts.items():
        series[value][day] += n
    return series


def totals(counts: Counter) -> list[tuple[object, int]]:
    """Sum over the days of the (already aggregated) rows: value -> count, largest first."""
    summed: Counter = Counter()
    for (_day, value), n in counts.items():
        summed[value] += n
    return sorted(summed.items(), key=lambda item: (-item[1], str(item[0])))


def day_chart(days: list[str], series: dict[str, Counter], *, names: Iterable[str] | None = None) -> dict:
    """A stacked bar per day, drawn as SVG on a 0..100 high canvas (stretched to the page width)."""
    order = list(names) if names is not None else sorted(series, key=lambda s: -sum(series[s].values()))
    colors = {name: COLORS[i % len(COLORS)] for i, name in enumerate(order)}
    peak = max((sum(series[s][d] for s in order) for d in days), default=0)
    bars = []
    for i, day in enumerate(days):
        y, parts = 100.0, []
        for name in order:
            n = series[name][day] if name in series else 0
            if n:
                h = 100.0 * n / peak
                y -= h
                parts.append({"name": name, "count": n, "y": round(y, 3), "h": round(h, 3), "color": colors[name]})
        total = sum(p["count"] for p in parts)
        bars.append({"day": day, "x": i * 10 + 1, "total": total, "parts": parts})
    return {"width": max(len(days), 1) * 10, "peak": peak, "bars": bars, "first": days[0] if days else "",
            "last": days[-1] if days else "", "legend": [(name, colors[name]) for name in order]}


def bar_rows(items: list[tuple[object, int]], label: Callable[[object], str | None]) -> list[dict]:
    """Horizontal bars; a label of None means the value is unknown (not stored, or erased)."""
    peak = max((n for _, n in items), default=0) or 1
    return [{"label": label(value) if value not in (None, "") else None, "value": value, "count": n,
             "width": round(100 * n / peak, 1)} for value, n in items]


def namer(kind: str, language: str, kb: KnowledgeBase | None) -> Callable[[object], str | None]:
    """Names in the console's language: countries and languages from the CLDR (Babel), topics from content."""
    locale = Locale.parse(language)

    def name(value: object) -> str | None:
        code = str(value)
        if kind == "country":
            found = locale.territories.get(code.upper())
        elif kind == "language":
            found = locale.languages.get(code)
        elif kind == "topic" and kb is not None:
            found = kb.topic_name(code, language)
        else:
            found = None
        return f"{found} ({code})" if found and found != code else code

    return name


def clamp(days: int) -> int:
    return max(1, min(MAX_DAYS, days))


@router.get("/insights")
async def insights(request: Request, account: AnyRole, engine: EngineDep, assistant: AssistantDep,
                   knowledge: KnowledgeDep, days: Annotated[int, Query()] = 30) -> HTMLResponse:
    days = clamp(days)
    first, last = first_day(days), utcnow().date()
    since = start_of(first)

    def collect() -> dict:
        groups, grouped = problem_groups(engine, since)
        return {"counts": daily_counts(engine, since), "problems": problem_totals(engine, since),
                "groups": groups, "grouped": grouped, "opted_out": opted_out_contacts(engine),
                "failures": delivery_failures(engine, since)}

    data = await anyio.to_thread.run_sync(collect)
    counts = data["counts"]
    language = console_language(request)
    kb = knowledge.get() if knowledge.ready else None
    shown = day_list(first, last)
    events = per_day(counts["event"])
    understander = assistant.understander
    response = render(
        request, "insights.html", account=account, days=days, periods=PERIODS, first=first, last=last,
        inbound=sum(counts["channel"].values()), channel_chart=day_chart(shown, per_day(counts["channel"])),
        breakdowns=[(kind, bar_rows(totals(counts[kind]), namer(kind, language, kb)))
                    for kind in ("country", "topic", "language", "engine")],
        unanswered=data["problems"][0], low_confidence=data["problems"][1], groups=data["groups"][:SHOWN_GROUPS],
        group_count=len(data["groups"]), grouped=data["grouped"], group_limit=GROUP_LIMIT,
        threshold=LOW_CONFIDENCE, opted_out=data["opted_out"],
        opt_outs=sum(events["opt_out"].values()), erasures=sum(events["erasure"].values()),
        event_chart=day_chart(shown, events, names=("opt_out", "erasure")),
        failures=data["failures"], error_docs=ERROR_DOCS, engine_name=understander.name,
        has_fallback=understander.primary is not None, fallbacks=understander.fallbacks)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- CSV ------------------------------------------------------------------------------------------------

def _cell(value: object) -> object:
    """A cell a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def daily_csv(counts: dict[str, Counter]) -> list[list[object]]:
    rows: list[list[object]] = [["day", "dimension", "value", "count"]]
    for dimension in (*DIMENSIONS, "event"):
        for (day, value), n in sorted(counts[dimension].items(), key=lambda item: (item[0][0], str(item[0][1]))):
            rows.append([day, dimension, value, n])
    return rows


def groups_csv(groups: list[Group]) -> list[list[object]]:
    rows: list[list[object]] = [["rank", "count", "unanswered", "low_confidence", "last_seen", "languages",
                                 "sample_text", "other_texts", "normalised"]]
    for rank, g in enumerate(groups, 1):
        rows.append([rank, g.count, g.unanswered, g.low_confidence,
                     g.last_seen.date().isoformat() if g.last_seen else "", " ".join(sorted(g.languages)),
                     g.sample, " | ".join(g.texts[1:6]), g.key])
    return rows


def failures_csv(failures: list[Failure]) -> list[list[object]]:
    rows: list[list[object]] = [["error_code", "failed", "undelivered", "total"]]
    rows += [[f.code, f.failed, f.undelivered, f.total] for f in failures]
    return rows


@router.get("/insights.csv")
async def insights_csv(account: AnyRole, engine: EngineDep, days: Annotated[int, Query()] = 30,
                       table: Literal["daily", "unanswered", "failures"] = "daily") -> Response:
    days = clamp(days)
    first = first_day(days)
    since = start_of(first)
    if table == "daily":
        rows = await anyio.to_thread.run_sync(lambda: daily_csv(daily_counts(engine, since)))
    elif table == "unanswered":
        rows = await anyio.to_thread.run_sync(lambda: groups_csv(problem_groups(engine, since)[0]))
    else:
        rows = await anyio.to_thread.run_sync(lambda: failures_csv(delivery_failures(engine, since)))
    out = io.StringIO()
    out.write("\ufeff")  # a BOM, so spreadsheet programs read the accents as UTF-8
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([[_cell(value) for value in row] for row in rows])
    name = f"insights-{table}-{first.isoformat()}-{utcnow().date().isoformat()}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
