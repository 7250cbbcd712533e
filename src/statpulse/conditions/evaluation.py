"""Evaluation: judge conditions against an Observation into described ConditionResults."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime

from statpulse.conditions.compare import compare
from statpulse.conditions.errors import ConditionError
from statpulse.conditions.facts import Resolved
from statpulse.conditions.nodes import Comparison, Condition, Matcher, Operand
from statpulse.conditions.parser import parse
from statpulse.conditions.resolve import Resolver
from statpulse.model import ConditionResult, Observation, utcnow

_SHOWN_CHARS = 100

# A monitor judges the same strings every run: parse each once (Conditions are immutable).
_parse_cached = functools.lru_cache(maxsize=8192)(parse)


def evaluate(
    condition: Condition | str, obs: Observation, *, now: datetime | None = None
) -> ConditionResult:
    """Judge one condition against an observation at ``now`` (default: the current UTC time,
    which only ``[CERTIFICATE_EXPIRATION]`` reads). Never raises.

    A string that does not parse gives a failed result described as ``invalid condition: ...``.
    """
    return _evaluate(condition, Resolver(obs, utcnow() if now is None else now))


def evaluate_all(
    conditions: Sequence[Condition | str], obs: Observation, *, now: datetime | None = None
) -> list[ConditionResult]:
    """Judge every condition, in order, at one ``now``, decoding the body at most once. Never
    raises."""
    resolver = Resolver(obs, utcnow() if now is None else now)
    return [_evaluate(condition, resolver) for condition in conditions]


def _evaluate(condition: Condition | str, resolver: Resolver) -> ConditionResult:
    if isinstance(condition, str):
        try:
            condition = _parse_cached(condition)
        except ConditionError as exc:
            return ConditionResult(exc.condition, False, f"invalid condition: {exc}")
    failures: list[str] = []
    for alternative in condition.alternatives:
        success, description = _judge(alternative, resolver)
        if success:  # a success reads as written; a failure shows every side it tried
            written = " || ".join(_written(a) for a in condition.alternatives)
            return ConditionResult(condition.text, True, written, condition.latency_only)
        failures.append(description)
    return ConditionResult(condition.text, False, " || ".join(failures), condition.latency_only)


def _judge(comparison: Comparison, resolver: Resolver) -> tuple[bool, str]:
    left, right, op = comparison.left, comparison.right, comparison.operator
    lvalue, rvalue = resolver.value(left), resolver.value(right)
    success = compare(op, left, lvalue, right, rvalue)
    if success:
        return True, _written(comparison)
    description = f"{_shown(left, lvalue)} {op} {_shown(right, rvalue)}"
    if success is None:
        matcher = left if isinstance(left, Matcher) else right
        window = matcher.regex.window if isinstance(matcher, Matcher) and matcher.regex else 0
        description += f" (unknown: {matcher.src} searched only the first {window} characters)"
    return False, description


def _written(comparison: Comparison) -> str:
    return f"{comparison.left.src} {comparison.operator} {comparison.right.src}"


def _shown(node: Operand, value: Resolved) -> str:
    if isinstance(node, Matcher) or not node.placeholder or value == node.src:
        return node.src
    if value is None:
        return f"{node.src} (INVALID)"
    if isinstance(value, tuple):
        value = json.dumps(list(value), separators=(",", ":"), ensure_ascii=False)
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value[:_SHOWN_CHARS])
    return f"{node.src} ({shown}{'...(truncated)' if len(value) > _SHOWN_CHARS else ''})"
