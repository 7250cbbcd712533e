"""FastAPI dependencies: the process services and API-key authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from statpulse.model import ApiKey, Scope
from statpulse.security import apikeys
from statpulse.web.errors import ApiError
from statpulse.web.services import Services

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(services)]


async def api_key(request: Request, svc: ServicesDep) -> ApiKey:
    """The caller's key from ``Authorization: Bearer <key>``; 401 when missing or invalid."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(401, "unauthorized", "missing API key", headers=_CHALLENGE)
    token = token.strip()
    prefix = apikeys.prefix_of(token) if scheme.lower() == "bearer" else None
    found = await svc.store.find_api_key(prefix) if prefix else None
    if found is None or not apikeys.matches(token, found[1]):
        raise ApiError(401, "unauthorized", "invalid API key", headers=_CHALLENGE)
    return found[0]


async def write_key(key: Annotated[ApiKey, Depends(api_key)]) -> ApiKey:
    if key.scope is not Scope.WRITE:
        raise ApiError(403, "forbidden", "this API key is read-only")
    return key


ReadKey = Annotated[ApiKey, Depends(api_key)]
WriteKey = Annotated[ApiKey, Depends(write_key)]


def actor(key: ApiKey) -> str:
    return f"apikey:{key.prefix}"
