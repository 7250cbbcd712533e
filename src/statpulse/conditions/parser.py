"""Parser: condition text to a :class:`Condition`, or a :class:`ConditionError` with a position."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn, cast

from statpulse.conditions.errors import ConditionError
from statpulse.conditions.lexer import OPERATOR_HINT_RE, Token, tokenize
from statpulse.conditions.nodes import Comparison, Condition, Operator
from statpulse.conditions.operands import check_types, operand

_AND_WORDS = frozenset({"&&", "and", "AND"})
_OR_WORDS = frozenset({"or", "OR"})
_OPERATORS = "==, !=, <, <=, > or >="


def parse(text: str) -> Condition:
    """Parse one condition. Raises :class:`ConditionError` for the first problem found."""
    groups: list[tuple[list[Token], int]] = []  # the tokens of each alternative, where it ends
    current: list[Token] = []
    for token in tokenize(text):
        if token.kind != "or":
            current.append(token)
            continue
        if not current:
            raise ConditionError(text, token.start, "missing condition before '||'")
        groups.append((current, token.start))
        current = []
    if groups and not current:
        raise ConditionError(text, len(text), "missing condition after '||'")
    groups.append((current, len(text)))
    alone = len(groups) == 1
    return Condition(text, tuple(_comparison(text, g, end, alone) for g, end in groups))


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


def _comparison(text: str, tokens: list[Token], end: int, alone: bool) -> Comparison:
    """One alternative: ``tokens`` end before ``end`` (the next '||' or the end of text)."""
    ops = [t for t in tokens if t.kind == "op"]
    if not ops:
        for token in (t for t in tokens if t.kind == "word"):
            if hint := OPERATOR_HINT_RE.search(token.text):
                reason = f"operator '{hint[0]}' needs a space on each side"
                raise ConditionError(text, token.start + hint.start(), reason)
        if not alone:
            src = text[tokens[0].start : tokens[-1].end]
            reason = f"'{src}' has no operator: each side of '||' is a whole comparison"
            raise ConditionError(text, tokens[0].start, f"{reason}, as in 'a == 1 || a == 2'")
        raise ConditionError(text, end, f"missing operator ({_OPERATORS})")
    op = ops[0]
    if len(ops) > 1:
        _second_operator(text, tokens, ops[0], ops[1])
    split = tokens.index(op)
    if split == 0:
        raise ConditionError(text, op.start, f"missing value before '{op.text}'")
    if split == len(tokens) - 1:
        raise ConditionError(text, end, f"missing value after '{op.text}'")
    left, right = operand(text, tokens[:split]), operand(text, tokens[split + 1 :])
    check_types(text, op.text, left, right)
    start = tokens[0].start
    return Comparison(text[start : tokens[-1].end], start, cast(Operator, op.text), left, right)


def _second_operator(text: str, tokens: list[Token], first: Token, second: Token) -> NoReturn:
    """Raise for a second operator, with a hint when a word between looks like 'and'/'or'."""
    between = tokens[tokens.index(first) + 1 : tokens.index(second)]
    for word in (t for t in between if t.kind == "word"):
        if word.text in _AND_WORDS:
            reason = (
                f"'{word.text}' is not supported: list each condition on its own; all must hold"
            )
            raise ConditionError(text, word.start, reason)
        if word.text in _OR_WORDS:
            raise ConditionError(text, word.start, f"write '||' instead of '{word.text}'")
        if (at := word.text.find("||")) >= 0:
            raise ConditionError(text, word.start + at, "operator '||' needs a space on each side")
    raise ConditionError(text, second.start, f"unexpected second operator '{second.text}'")
