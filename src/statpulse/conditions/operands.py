"""The two sides of a comparison: values and matchers from tokens, and their types checked."""

from __future__ import annotations

from statpulse.conditions.errors import ConditionError
from statpulse.conditions.lexer import Token
from statpulse.conditions.nodes import Matcher, Operand, Value
from statpulse.conditions.numbers import ORDERING, to_number
from statpulse.conditions.pattern import compile_glob
from statpulse.conditions.placeholders import PLACEHOLDERS
from statpulse.conditions.regex import compile_regex

_COUNTABLE = ("body", "headers", "list")
"""Kinds of placeholder that len() and has() take."""


def operand(text: str, tokens: list[Token]) -> Operand:
    """The value or matcher that ``tokens`` (one side of an operator) make."""
    first, used = tokens[0], 1
    node: Operand
    if first.kind == "placeholder":
        node = Value(first.text, first.start, first.name, first.path)
    elif first.kind == "func" and first.name in ("len", "has"):
        node = _counting(text, first, tokens)
        used = 3
    elif first.kind == "func":  # the tokenizer put the raw argument and its ')' right after
        raw, src, used = tokens[1], text[first.start : tokens[2].end], 3
        if first.name == "pat":
            node = Matcher("pat", src, first.start, glob=compile_glob(text, raw.start, raw.end))
        elif first.name == "any":
            options = tuple(option.strip() for option in raw.text.split(","))
            node = Matcher("any", src, first.start, options=options)
        else:
            regex = compile_regex(text, raw.start, raw.end)
            node = Matcher(first.name, src, first.start, regex=regex)
    elif first.kind == "word":
        while used < len(tokens) and tokens[used].kind == "word":
            used += 1
        node = Value(text[first.start : tokens[used - 1].end], first.start)
    else:
        used = 0  # reported just below
    if used < len(tokens):
        raise ConditionError(text, tokens[used].start, f"unexpected token '{tokens[used].text}'")
    return node


def _counting(text: str, func: Token, tokens: list[Token]) -> Value:
    """``len(...)`` or ``has(...)`` of [BODY], a header or a list placeholder."""
    arg = tokens[1] if len(tokens) > 1 else None
    close = tokens[2] if len(tokens) > 2 else None
    if arg is None or arg.kind != "placeholder" or PLACEHOLDERS[arg.name].kind not in _COUNTABLE:
        position = arg.start if arg else func.end
        reason = f"{func.name}() works only with [BODY], [HEADERS].Name, [CERTIFICATE_SANS]"
        raise ConditionError(text, position, f"{reason} and [DNS_ANSWERS]")
    if close is None or close.kind != ")":
        position = close.start if close else arg.end
        raise ConditionError(text, position, f"missing ')' to close {func.name}(")
    return Value(text[func.start : close.end], func.start, arg.name, arg.path, func.name)


def check_types(text: str, op: str, left: Operand, right: Operand) -> None:
    """Reject matchers with an ordering operator or on both sides, and ordering of what cannot
    be a number."""
    matchers = [n for n in (left, right) if isinstance(n, Matcher)]
    if matchers and op in ORDERING:
        reason = f"{matchers[0].func}() works only with == and !="
        raise ConditionError(text, matchers[0].start, reason)
    if len(matchers) == 2:
        reason = "pat(), any() and re() need a value to compare with"
        raise ConditionError(text, right.start, reason)
    for node in (left, right) if op in ORDERING else ():
        if isinstance(node, Matcher) or node.func == "len":
            continue
        kind = PLACEHOLDERS[node.placeholder].kind if node.placeholder else ""
        if node.func == "has" or kind in ("text", "flag"):
            reason = f"{node.src} is not a number"
        elif kind == "list" and not node.path:
            reason = f"{node.src} is a list (compare len({node.src}) or {node.src}[0])"
        elif not kind and to_number(node.src) is None:
            reason = f"'{node.src}' is not a number or a duration"
        else:
            continue
        raise ConditionError(text, node.start, f"{reason}; '{op}' compares numbers")
