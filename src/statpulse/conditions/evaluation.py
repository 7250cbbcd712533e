"""Evaluation: judge conditions against an Observation into described ConditionResults."""

from __future__ import annotations

from collections.abc import Sequence

from statpulse.conditions.errors import ConditionError
from statpulse.conditions.nodes import Condition, Matcher, Operand
from statpulse.conditions.numbers import ORDERING, go_equal, to_number
from statpulse.conditions.parser import parse
from statpulse.conditions.resolve import Resolver
from statpulse.model import ConditionResult, Observation

_SHOWN_CHARS = 100


def evaluate(condition: Condition | str, obs: Observation) -> ConditionResult:
    """Judge one condition against an observation. Never raises.

    A string that does not parse gives a failed result described as ``invalid condition: ...``.
    """
    return _evaluate(condition, Resolver(obs))


def evaluate_all(conditions: Sequence[Condition | str], obs: Observation) -> list[ConditionResult]:
    """Judge every condition, in order, decoding the body at most once. Never raises."""
    resolver = Resolver(obs)
    return [_evaluate(condition, resolver) for condition in conditions]


def _evaluate(condition: Condition | str, resolver: Resolver) -> ConditionResult:
    if isinstance(condition, str):
        try:
            condition = parse(condition)
        except ConditionError as exc:
            return ConditionResult(exc.condition, False, f"invalid condition: {exc}")
    left, right, op = condition.left, condition.right, condition.operator
    lvalue, rvalue = resolver.value(left), resolver.value(right)
    success = _compare(op, left, lvalue, right, rvalue)
    if success:
        description = f"{left.src} {op} {right.src}"
    else:
        description = f"{_shown(left, lvalue)} {op} {_shown(right, rvalue)}"
    return ConditionResult(condition.text, success, description, condition.latency_only)


def _compare(
    op: str, left: Operand, lvalue: str | None, right: Operand, rvalue: str | None
) -> bool:
    for matcher, subject in ((left, rvalue), (right, lvalue)):
        if isinstance(matcher, Matcher):
            return subject is not None and matcher.matches(subject) == (op == "==")
    if lvalue is None or rvalue is None:
        return False
    if op in ("==", "!="):
        return go_equal(lvalue, rvalue) == (op == "==")
    a, b = to_number(lvalue), to_number(rvalue)
    return a is not None and b is not None and bool(ORDERING[op](a, b))


def _shown(node: Operand, value: str | None) -> str:
    if isinstance(node, Matcher) or not node.placeholder or value == node.src:
        return node.src
    if value is None:
        return f"{node.src} (INVALID)"
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value[:_SHOWN_CHARS])
    return f"{node.src} ({shown}{'...(truncated)' if len(value) > _SHOWN_CHARS else ''})"
