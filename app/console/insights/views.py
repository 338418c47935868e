"""The insights page and its CSV downloads."""

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import AssistantDep, EngineDep, KnowledgeDep
from app.console.insights.charts import bar_rows, day_chart, day_list, namer, per_day, totals
from app.console.insights.export import as_csv, daily_csv, failures_csv, groups_csv
from app.console.insights.sql import (
    GROUP_LIMIT,
    LOW_CONFIDENCE,
    daily_counts,
    delivery_failures,
    entry_uses,
    first_day,
    opted_out_contacts,
    problem_groups,
    problem_totals,
    start_of,
)
from app.console.views import AnyRole, ConsoleRoute, console_language, render
from app.knowledge import KnowledgeBase
from app.storage.models import utcnow

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

SHOWN_GROUPS = 50
MAX_DAYS = 366
PERIODS = (7, 30, 90, 365)
ERROR_DOCS = "https://www.twilio.com/docs/api/errors/"


def closest_entry(kb: KnowledgeBase, text: str) -> tuple[str, float] | None:
    """The entry nearest to an unanswered question, in any country: what an editor would extend or add next to."""
    matches = kb.entry_index.search(text, None, everywhere=True, limit=1)
    return (matches[0].entry, matches[0].score) if matches else None


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
                "failures": delivery_failures(engine, since), "entries": entry_uses(engine, since)}

    data = await anyio.to_thread.run_sync(collect)
    counts = data["counts"]
    language = console_language(request)
    kb = knowledge.get() if knowledge.ready else None
    shown = day_list(first, last)
    events = per_day(counts["event"])
    understander = assistant.understander
    closest = {g.key: closest_entry(kb, g.sample) for g in data["groups"][:SHOWN_GROUPS]} if kb else {}
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
        has_fallback=understander.primary is not None, fallbacks=understander.fallbacks,
        entries=data["entries"], closest=closest)
    response.headers["Cache-Control"] = "no-store"
    return response


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
    name = f"insights-{table}-{first.isoformat()}-{utcnow().date().isoformat()}.csv"
    return Response(as_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
