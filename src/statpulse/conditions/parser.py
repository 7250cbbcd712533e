"""Parser: condition text to a :class:`Condition`, or a :class:`ConditionError` with a position."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from statpulse.conditions.errors import ConditionError
from statpulse.conditions.lexer import OPERATOR_HINT_RE, Token, tokenize
from statpulse.conditions.nodes import Condition, Matcher, Operand, Operator, Value
from statpulse.conditions.numbers import ORDERING, to_number
from statpulse.conditions.pattern import compile_glob


def parse(text: str) -> Condition:
    """Parse one condition. Raises :class:`ConditionError` for the first problem found."""
    tokens = tokenize(text)
    ops = [t for t in tokens if t.kind == "op"]
    if not ops:
        for token in (t for t in tokens if t.kind == "word"):
            if hint := OPERATOR_HINT_RE.search(token.text):
                reason = f"operator '{hint[0]}' needs a space on each side"
                raise ConditionError(text, token.start + hint.start(), reason)
        raise ConditionError(text, len(text), "missing operator (==, !=, <, <=, > or >=)")
    op = ops[0]
    if len(ops) > 1:
        raise ConditionError(text, ops[1].start, f"unexpected second operator '{ops[1].text}'")
    split = tokens.index(op)
    if split == 0:
        raise ConditionError(text, op.start, f"missing value before '{op.text}'")
    if split == len(tokens) - 1:
        raise ConditionError(text, len(text), f"missing value after '{op.text}'")
    left, right = _operand(text, tokens[:split]), _operand(text, tokens[split + 1 :])
    _check_types(text, op.text, left, right)
    return Condition(text, cast(Operator, op.text), left, right)


def validate(conditions: Sequence[str]) -> list[Condition]:
    """Parse every condition; raises the first :class:`ConditionError`, with ``index`` set."""
    parsed: list[Condition] = []
    for index, text in enumerate(conditions):
        try:
            parsed.append(parse(text))
        except ConditionError as exc:
            exc.index = index
            raise
    return parsed


def _operand(text: str, tokens: list[Token]) -> Operand:
    first, used = tokens[0], 1
    node: Operand
    if first.kind == "placeholder":
        node = Value(first.text, first.start, first.name, first.path)
    elif first.kind == "func" and first.name in ("len", "has"):
        arg = tokens[1] if len(tokens) > 1 else None
        close = tokens[2] if len(tokens) > 2 else None
        if arg is None or arg.kind != "placeholder" or arg.name != "BODY":
            position = arg.start if arg else first.end
            raise ConditionError(text, position, f"{first.name}() works only with [BODY]")
        if close is None or close.kind != ")":
            position = close.start if close else arg.end
            raise ConditionError(text, position, f"missing ')' to close {first.name}(")
        src = text[first.start : close.end]
        node, used = Value(src, first.start, arg.name, arg.path, first.name), 3
    elif first.kind == "func":  # the tokenizer put the raw argument and its ')' right after
        raw, src, used = tokens[1], text[first.start : tokens[2].end], 3
        if first.name == "pat":
            node = Matcher("pat", src, first.start, glob=compile_glob(text, raw.start, raw.end))
        else:
            options = tuple(option.strip() for option in raw.text.split(","))
            node = Matcher("any", src, first.start, options=options)
    elif first.kind == "word":
        while used < len(tokens) and tokens[used].kind == "word":
            used += 1
        node = Value(text[first.start : tokens[used - 1].end], first.start)
    else:
        used = 0  # reported just below
    if used < len(tokens):
        raise ConditionError(text, tokens[used].start, f"unexpected token '{tokens[used].text}'")
    return node


def _check_types(text: str, op: str, left: Operand, right: Operand) -> None:
    matchers = [n for n in (left, right) if isinstance(n, Matcher)]
    if matchers and op in ORDERING:
        reason = f"{matchers[0].func}() works only with == and !="
        raise ConditionError(text, matchers[0].start, reason)
    if len(matchers) == 2:
        raise ConditionError(text, right.start, "pat() and any() need a value to compare with")
    for node in (left, right) if op in ORDERING else ():
        if isinstance(node, Matcher):
            continue
        if node.func == "has" or node.placeholder in ("IP", "CONNECTED"):
            reason = f"{node.src} is not a number"
        elif not node.placeholder and to_number(node.src) is None:
            reason = f"'{node.src}' is not a number or a duration"
        else:
            continue
        raise ConditionError(text, node.start, f"{reason}; '{op}' compares numbers")
