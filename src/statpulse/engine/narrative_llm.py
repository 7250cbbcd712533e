"""Optional rewrite of a template draft by an OpenAI-compatible chat completions endpoint.

``Rewriter(base_url, model, api_key).rewrite(draft, evidence, session)`` POSTs
``{base_url}/chat/completions`` and returns a ``Rewritten``: the model's draft
(``source="llm"``) when its answer passes validation, else the template draft unchanged
(``source="template"``) with ``fallback_reason`` saying why (timeout, HTTP error, unreadable
response, malformed JSON, failed validation). It never raises (cancellation excepted); the
impact always stays the template's.

Only customer-safe facts are sent: the template draft, component and region names, the failure
kind (``narrative.classify``), the HTTP status code, the start time and the impact. The
technical message is never sent, so a remote model cannot repeat it.

The answer (``choices[0].message.content``) is either JSON ``{"title": ..., "body": ...}`` (the
title may be missing: the template's is kept) or a plain-text body. It is rejected when empty,
when the title exceeds ``TITLE_MAX`` or the body is outside ``MIN_BODY_CHARS``..``MAX_BODY_CHARS``
or over 1.5 x ``max_words`` words, when it holds markup (anything like a tag, ``javascript:``,
code fences) or control characters, or an IP address or the technical message.

The API key is sent as ``Authorization: Bearer`` and is neither logged nor shown by ``repr``.
The endpoint is operator configuration (often a model on 127.0.0.1), not a tenant's target, so
the caller's session is used as is and the probes' egress guard does not apply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
import structlog

from statpulse.engine.narrative import TITLE_MAX, Draft, Evidence, classify

log = structlog.get_logger(__name__)

MIN_BODY_CHARS = 20
MAX_BODY_CHARS = 2000

SYSTEM_PROMPT = (
    "You write status page updates for the customers of an online service. Rewrite the draft "
    "you are given into a calm, factual, plain-English update. Use only the facts provided: do "
    "not invent causes, fixes, estimated times or numbers, and do not blame anyone. Keep the "
    "start time, the affected components and regions, and the commitment to post an update. "
    "Keep the body under {max_words} words and the title under {title_max} characters. No "
    'markup, no links. Answer with JSON only: {{"title": "...", "body": "..."}}.'
)

_MARKUP = re.compile(r"<\s*[/!?a-zA-Z]|javascript:|```|&#|&[a-z]+;", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
# Three or more colons, or "::": never a time of day such as 14:03:27.
_IPV6 = re.compile(r"\b(?:[0-9a-f]{1,4}:){3,7}[0-9a-f]{1,4}\b|[0-9a-f]*::[0-9a-f]", re.IGNORECASE)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


@dataclass(frozen=True)
class Rewritten:
    """A draft and where it came from; ``fallback_reason`` is set only for the template."""

    draft: Draft
    source: Literal["template", "llm"]
    fallback_reason: str | None = None


class _Rejected(Exception):
    """The model's answer is unusable; the message is the fallback reason."""


class Rewriter:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 8.0,
        max_words: int = 120,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.max_words = max_words

    def __repr__(self) -> str:
        return f"Rewriter(url={self.url!r}, model={self.model!r}, timeout_s={self.timeout_s})"

    async def rewrite(
        self, draft: Draft, evidence: Evidence, session: aiohttp.ClientSession
    ) -> Rewritten:
        """The model's rewrite of ``draft``, or ``draft`` itself with the reason it was kept."""
        try:
            content = await self._complete(self._messages(draft, evidence), session)
            title, body = _parse(content)
            result = _validate(title or draft.title, body, evidence, self.max_words)
        except _Rejected as exc:
            reason = str(exc)
            log.warning("narrative rewrite fell back to the template", reason=reason)
            return Rewritten(draft, "template", reason)
        return Rewritten(Draft(result[0], result[1], draft.impact), "llm")

    def _messages(self, draft: Draft, evidence: Evidence) -> list[dict[str, str]]:
        facts = {
            "draft_title": draft.title,
            "draft_body": draft.body,
            "components": list(evidence.components),
            "affected_regions": list(evidence.affected_regions),
            "total_regions": max(evidence.total_regions, len(set(evidence.affected_regions))),
            "problem": classify(evidence).value,
            "http_status": evidence.status_code,
            "started_at": _utc(evidence.started_at).strftime("%Y-%m-%d %H:%M UTC"),
            "impact": draft.impact,
        }
        system = SYSTEM_PROMPT.format(max_words=self.max_words, title_max=TITLE_MAX)
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": json.dumps(facts, ensure_ascii=False)},
        ]

    async def _complete(
        self, messages: list[dict[str, str]], session: aiohttp.ClientSession
    ) -> str:
        """``choices[0].message.content``; raises ``_Rejected`` on any failure."""
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        payload = {
            "model": self.model,
            "messages": messages,
            "temperature": 0.2,
            "max_tokens": self.max_words * 4 + 100,
        }
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with session.post(
                self.url, json=payload, headers=headers, timeout=timeout
            ) as resp:
                if resp.status != 200:
                    raise _Rejected(f"HTTP {resp.status}")
                data: Any = await resp.json(content_type=None)
        except TimeoutError:
            raise _Rejected(f"timed out after {self.timeout_s} s") from None
        except aiohttp.ClientError as exc:
            raise _Rejected(f"request failed: {type(exc).__name__}") from None
        except ValueError:  # json.JSONDecodeError, UnicodeDecodeError
            raise _Rejected("response is not JSON") from None
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise _Rejected("response has no choices[0].message.content") from None
        if not isinstance(content, str) or not content.strip():
            raise _Rejected("empty content")
        return content


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse(content: str) -> tuple[str | None, str]:
    """(title or None, body) from JSON or plain-text content."""
    text = content.strip()
    if fenced := _FENCE.match(text):
        text = fenced.group(1)
    if not text.startswith("{"):
        return None, text
    try:
        data = json.loads(text)
    except ValueError:
        raise _Rejected("malformed JSON content") from None
    if not isinstance(data, dict):
        raise _Rejected("JSON content is not an object")
    title, body = data.get("title"), data.get("body")
    if not isinstance(body, str) or (title is not None and not isinstance(title, str)):
        raise _Rejected("JSON content without a string body")
    return title, body


def _validate(title: str, body: str, evidence: Evidence, max_words: int) -> tuple[str, str]:
    title = " ".join(title.split())
    body = "\n".join(" ".join(line.split()) for line in body.strip().splitlines()).strip()
    if not title or len(title) > TITLE_MAX:
        raise _Rejected("title empty or too long")
    if not MIN_BODY_CHARS <= len(body) <= MAX_BODY_CHARS or len(body.split()) > max_words * 1.5:
        raise _Rejected("body too short or too long")
    both = f"{title}\n{body}"
    if _MARKUP.search(both):
        raise _Rejected("markup in content")
    if _CONTROL.search(both):
        raise _Rejected("control characters in content")
    message = evidence.message.strip()
    if _IPV4.search(both) or _IPV6.search(both) or (len(message) >= 8 and message in both):
        raise _Rejected("internal details in content")
    return title, body
