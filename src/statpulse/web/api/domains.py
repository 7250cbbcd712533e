"""``/api/v1/pages/{page_id}/domains``: custom domains of a status page.

Adding a domain answers with the DNS records to create: a CNAME to this installation
(``settings.public_host``) and the ownership TXT record ``_statpulse.<hostname>``. ``verify``
checks the proof (web/domain_verify.py) and marks the domain verified; from then on
web/domains.py routes its Host to the page and Caddy may get it a certificate. Proofs: the TXT
record, looked up through ``settings.domain_resolver`` (or the system's resolvers), or the HTTP
token URL (``settings.domain_http_port``), which StatPulse itself answers once the CNAME points
here. ``{"method": "dns" | "http"}`` picks one; without it DNS is tried, then HTTP.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from statpulse.custom_domains import (
    DEFAULT_CNAME_TARGET,
    CustomDomain,
    new_token,
    normalise_hostname,
    txt_name,
    txt_value,
    well_known_url,
)
from statpulse.model import StatusPage, utcnow
from statpulse.settings import Settings
from statpulse.store.contract import Conflict
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey, actor
from statpulse.web.domain_verify import http_verified, txt_verified
from statpulse.web.domains import directory
from statpulse.web.errors import ApiError, invalid, not_found
from statpulse.web.services import Services

router = APIRouter(prefix="/api/v1/pages/{page_id}/domains", tags=["domains"])


class DomainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hostname: str = Field(min_length=1, max_length=260)


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["dns", "http"] | None = None


class DnsRecord(BaseModel):
    type: Literal["CNAME", "TXT"]
    name: str
    value: str


class DomainOut(BaseModel):
    id: uuid.UUID
    page_id: uuid.UUID
    hostname: str
    verified: bool
    verified_at: datetime | None
    created_at: datetime
    records: list[DnsRecord]
    http_verification_url: str


def _out(domain: CustomDomain, settings: Settings) -> DomainOut:
    target = settings.public_host or DEFAULT_CNAME_TARGET
    return DomainOut(
        id=domain.id,
        page_id=domain.page_id,
        hostname=domain.hostname,
        verified=domain.verified_at is not None,
        verified_at=domain.verified_at,
        created_at=domain.created_at,
        records=[
            DnsRecord(type="CNAME", name=domain.hostname, value=target),
            DnsRecord(type="TXT", name=txt_name(domain.hostname), value=txt_value(domain.token)),
        ],
        http_verification_url=well_known_url(domain.hostname, domain.token),
    )


async def _own_page(svc: Services, org_id: uuid.UUID, page_id: uuid.UUID) -> StatusPage:
    for page in await svc.store.list_pages(org_id):
        if page.id == page_id:
            return page
    raise not_found("status page")


async def _own_domain(
    svc: Services, org_id: uuid.UUID, page_id: uuid.UUID, domain_id: uuid.UUID
) -> CustomDomain:
    domain = await svc.store.get_domain(org_id, domain_id)
    if domain is None or domain.page_id != page_id:
        raise not_found("domain")
    return domain


@router.post("", status_code=201, response_model=DomainOut)
async def add_domain(
    page_id: uuid.UUID, body: DomainIn, key: WriteKey, svc: ServicesDep
) -> DomainOut:
    await _own_page(svc, key.org_id, page_id)
    try:
        hostname = normalise_hostname(body.hostname)
    except ValueError as exc:
        raise invalid("hostname", str(exc)) from exc
    try:
        domain = await svc.store.create_domain(key.org_id, page_id, hostname, new_token())
    except Conflict as exc:
        raise ApiError(409, "conflict", str(exc), field=exc.field) from exc
    await svc.store.audit(
        key.org_id, actor(key), "domain.create", "custom_domain", domain.id, None,
        {"hostname": hostname, "page_id": str(page_id)},
    )  # fmt: skip
    return _out(domain, svc.settings)


@router.get("", response_model=list[DomainOut])
async def list_domains(page_id: uuid.UUID, key: ReadKey, svc: ServicesDep) -> list[DomainOut]:
    await _own_page(svc, key.org_id, page_id)
    domains = await svc.store.list_domains(key.org_id, page_id)
    return [_out(d, svc.settings) for d in domains]


@router.delete("/{domain_id}", status_code=204)
async def delete_domain(
    page_id: uuid.UUID, domain_id: uuid.UUID, request: Request, key: WriteKey, svc: ServicesDep
) -> Response:
    domain = await _own_domain(svc, key.org_id, page_id, domain_id)
    await svc.store.delete_domain(key.org_id, domain_id)
    directory(request.app).invalidate()
    await svc.store.audit(
        key.org_id, actor(key), "domain.delete", "custom_domain", domain.id,
        {"hostname": domain.hostname}, None,
    )  # fmt: skip
    return Response(status_code=204)


@router.post("/{domain_id}/verify", response_model=DomainOut)
async def verify_domain(
    page_id: uuid.UUID,
    domain_id: uuid.UUID,
    request: Request,
    key: WriteKey,
    svc: ServicesDep,
    body: VerifyIn | None = None,
) -> DomainOut:
    """Checks the proof now; 422 (field ``hostname``) saying what was found otherwise."""
    domain = await _own_domain(svc, key.org_id, page_id, domain_id)
    if domain.verified_at is None:
        problem = await _check(svc.settings, domain, body.method if body else None)
        if problem is not None:
            raise ApiError(422, "unverified", f"hostname: {problem}", field="hostname")
        verified = await svc.store.mark_domain_verified(key.org_id, domain_id, utcnow())
        if verified is None:  # deleted meanwhile
            raise not_found("domain")
        domain = verified
        directory(request.app).invalidate()
        await svc.store.audit(
            key.org_id, actor(key), "domain.verify", "custom_domain", domain.id, None,
            {"hostname": domain.hostname},
        )  # fmt: skip
    return _out(domain, svc.settings)


async def _check(settings: Settings, domain: CustomDomain, method: str | None) -> str | None:
    """None when verified by ``method`` (None: DNS, then HTTP); else what was found."""
    problems = []
    if method in (None, "dns"):
        problem = await txt_verified(domain.hostname, domain.token, settings.domain_resolver)
        if problem is None:
            return None
        problems.append(problem)
    if method in (None, "http"):
        problem = await http_verified(
            domain.hostname,
            domain.token,
            settings.domain_resolver,
            settings.domain_http_port,
            settings.egress_policy(),
        )
        if problem is None:
            return None
        problems.append(problem)
    return "; ".join(problems)
