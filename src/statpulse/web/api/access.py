"""``/api/v1/pages/{slug}/access``: who may see a status page (web/public/access.py).

``PUT`` replaces the rules: ``{"password": str | null, "email_domains": [...],
"ip_allowlist": [...]}``. The password is write-only: ``GET`` says ``password_set``; a ``PUT``
without the ``password`` field keeps the current one, ``null`` removes it. Every rule empty
makes the page public again. A change signs every visitor out (``session_version`` grows).
Domains are DNS names (``example.com``: addresses ``@example.com``, not its subdomains); the
allowlist takes addresses or CIDR ranges, stored normalised (``10.1.2.3/8`` -> ``10.0.0.0/8``).
E-mail sign-in needs the SMTP settings (``smtp_host``, ``smtp_from``).
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from statpulse.custom_domains import normalise_hostname
from statpulse.model import StatusPage
from statpulse.store.sql_access import PageAccess
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey, actor
from statpulse.web.errors import invalid, not_found
from statpulse.web.public.access import directory
from statpulse.web.public.access_signin import MAX_PASSWORD, hash_password
from statpulse.web.services import Services

router = APIRouter(prefix="/api/v1/pages/{slug}/access", tags=["pages"])

MIN_PASSWORD = 8
MAX_RULES = 100


class AccessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(
        default=None,
        max_length=MAX_PASSWORD,
        description=f"At least {MIN_PASSWORD} characters; null removes it; omitted: kept.",
    )
    email_domains: list[str] = Field(default_factory=list, max_length=MAX_RULES)
    ip_allowlist: list[str] = Field(default_factory=list, max_length=MAX_RULES)


class AccessOut(BaseModel):
    private: bool
    password_set: bool
    email_domains: list[str]
    ip_allowlist: list[str]
    session_version: int
    updated_at: datetime | None


def _out(access: PageAccess | None) -> AccessOut:
    if access is None:
        return AccessOut(
            private=False,
            password_set=False,
            email_domains=[],
            ip_allowlist=[],
            session_version=0,
            updated_at=None,
        )
    return AccessOut(
        private=access.private,
        password_set=access.password_hash is not None,
        email_domains=list(access.email_domains),
        ip_allowlist=list(access.ip_allowlist),
        session_version=access.session_version,
        updated_at=access.updated_at,
    )


async def _page(svc: Services, org_id: uuid.UUID, slug: str) -> StatusPage:
    page = await svc.store.get_page(slug)
    if page is None or page.org_id != org_id:
        raise not_found("status page")
    return page


def _domains(values: list[str]) -> list[str]:
    out: list[str] = []
    for i, value in enumerate(values):
        try:
            name = normalise_hostname(value.removeprefix("@"))
        except ValueError as exc:
            raise invalid(f"email_domains[{i}]", str(exc)) from None
        if name not in out:
            out.append(name)
    return out


def _networks(values: list[str]) -> list[str]:
    out: list[str] = []
    for i, value in enumerate(values):
        try:
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise invalid(
                f"ip_allowlist[{i}]", f"{value!r} is not an IP address or CIDR range"
            ) from None
        if str(network) not in out:
            out.append(str(network))
    return out


@router.get("", response_model=AccessOut)
async def get_access(slug: str, key: ReadKey, svc: ServicesDep) -> AccessOut:
    page = await _page(svc, key.org_id, slug)
    return _out(await svc.store.get_page_access(page.id))


@router.put("", response_model=AccessOut)
async def put_access(
    slug: str, body: AccessIn, key: WriteKey, svc: ServicesDep, request: Request
) -> AccessOut:
    page = await _page(svc, key.org_id, slug)
    domains, networks = _domains(body.email_domains), _networks(body.ip_allowlist)
    if domains and not (svc.settings.smtp_host and svc.settings.smtp_from):
        raise invalid(
            "email_domains", "e-mail sign-in needs the SMTP settings smtp_host, smtp_from"
        )
    before = await svc.store.get_page_access(page.id)
    if "password" not in body.model_fields_set:
        password_hash = before.password_hash if before else None
    elif body.password is None:
        password_hash = None
    elif len(body.password) < MIN_PASSWORD:
        raise invalid("password", f"must be at least {MIN_PASSWORD} characters")
    else:
        password_hash = await hash_password(body.password)
    after = await svc.store.set_page_access(
        page.id, password_hash=password_hash, email_domains=domains, ip_allowlist=networks
    )
    directory(request.app).invalidate()
    if before is None or after.session_version != before.session_version:
        await svc.store.audit(
            key.org_id,
            actor(key),
            "page.access",
            "status_page",
            page.id,
            _out(before).model_dump(mode="json") if before else None,
            _out(after).model_dump(mode="json"),
        )
    return _out(after)
