"""Operator actions over HTTP, behind API_TOKEN: reload the knowledge base."""

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from app.api.deps import KnowledgeDep, require_admin_token
from app.knowledge.loader import ContentError

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin_token)])


@router.post("/content/reload")
async def reload_content(knowledge: KnowledgeDep) -> JSONResponse:
    """Load content/ now; invalid content is refused with its errors and the last good version keeps serving."""
    try:
        kb = await anyio.to_thread.run_sync(knowledge.reload)
    except ContentError as exc:
        serving = knowledge.get().version if knowledge.ready else None
        return JSONResponse({"errors": [str(p) for p in exc.problems], "serving": serving}, status_code=422)
    return JSONResponse({"version": kb.version, "loaded_at": knowledge.loaded_at.isoformat()
                         if knowledge.loaded_at else None})
