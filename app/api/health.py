"""GET /healthz (the process is alive), GET /readyz (it can answer people), GET /metrics (Prometheus)."""

import os

import anyio
from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from app.api.deps import AssistantDep, EngineDep, KnowledgeDep, require_token
from app.storage.db import reachable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/metrics", dependencies=[Depends(require_token)])
async def metrics(assistant: AssistantDep) -> Response:
    """Prometheus metrics (behind API_TOKEN when one is set), summed over all workers when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # `serve --workers N` sets it: each worker writes its files
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(assistant.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz")
async def readyz(engine: EngineDep, knowledge: KnowledgeDep, assistant: AssistantDep) -> JSONResponse:
    """Database reachable, knowledge base loaded (its version, load time and source), engine ready.

    Invalid files in content/ do not make the service unready while a last good version serves (from memory,
    or from the snapshot after a restart): content_dir says "invalid" and errors lists them by file and line.
    """
    database = await anyio.to_thread.run_sync(reachable, engine)
    kb = knowledge.get() if knowledge.ready else None
    refused = knowledge.last_error
    understander = assistant.understander
    primary = understander.primary
    rasa_up = await anyio.to_thread.run_sync(primary.ready) if primary is not None else None
    body = {
        "database": "ok" if database else "unreachable",
        "knowledge": {
            "version": kb.version if kb else None,
            "loaded_at": knowledge.loaded_at.isoformat() if knowledge.loaded_at else None,
            "served_from": knowledge.source if kb else None,  # "content" or "snapshot"
            "content_dir": "invalid" if refused else "valid",
            "errors": [str(p) for p in refused.problems] if refused else [],
            "last_error": str(refused) if refused else None,
        },
        "engine": {"name": understander.name, "embedded_examples": understander.embedded.examples,
                   "rasa_reachable": rasa_up, "rasa_breaker_open": understander.breaker_open,
                   "fallbacks": understander.fallbacks},
        "inbox": {"not_answered_yet": assistant.inbox.pending},  # this process's; `migrantinfo inbox` for all
    }
    ready = database and kb is not None  # a Rasa outage does not make the service unready: it falls back
    body["status"] = "ready" if ready else "not ready"
    return JSONResponse(body, status_code=200 if ready else 503)
