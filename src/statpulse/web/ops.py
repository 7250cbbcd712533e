"""``/healthz`` (process alive), ``/readyz`` (database reachable), ``/metrics`` (Prometheus)."""

from __future__ import annotations

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from statpulse.web.deps import ServicesDep

router = APIRouter(tags=["operations"])
log = structlog.get_logger(__name__)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(svc: ServicesDep) -> JSONResponse:
    try:
        await svc.store.ping()
    except Exception as exc:
        log.warning("database not reachable", error=str(exc))
        return JSONResponse({"status": "unavailable", "reason": "database unreachable"}, 503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
async def metrics(svc: ServicesDep) -> Response:
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE_LATEST)
