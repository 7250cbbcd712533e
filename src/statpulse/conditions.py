"""Check conditions in Gatus's syntax, parsed once into a small AST and judged per Observation.

A condition is ``<value> <operator> <value>``: ``[STATUS] == 200``, ``[BODY].data[0].id == 1``,
``len([BODY].items) > 0``, ``[IP] == pat(10.*)``, ``[RESPONSE_TIME] < 300ms``. The operator
(``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=``) needs whitespace on both sides, as values may hold ``<``
or ``=`` (``pat(*<h1>*)``). A value is a placeholder (``[STATUS]``, ``[RESPONSE_TIME]`` in whole
ms, ``[IP]``, ``[CONNECTED]``, ``[BODY]`` with an optional JSON path like ``.a.b[0]`` or
``[0].id``), ``len([BODY]...)``, ``has([BODY]...)``, ``pat(glob)``, ``any(a, b)``, or literal text
taken as written, quotes included.

Gatus semantics followed (TwiN/gatus ``config/endpoint/condition.go``, ``placeholder.go``,
``jsonpath/jsonpath.go``, ``pattern/pattern.go``, README "Conditions"):

* ``==``/``!=``: two Go integers (``strconv.ParseInt(s, 0, 64)``: ``0x`` ``0o`` ``0b``, leading
  ``0`` octal, ``_`` separators) compare as integers, anything else as exact strings: ``1.0 != 1``.
* ``<`` ``<=`` ``>`` ``>=``: a value reads as a Go duration in ms (``300ms``, ``1.5s``, ``1h30m``),
  else an integer as above, else a decimal; on either side, also for values from the response.
* ``[BODY]`` is the trimmed body. A path yields a string as is, numbers, ``true``/``false``,
  objects as compact JSON with sorted keys; ``null`` or a missing path is INVALID.
* ``len``: an array's element count, else the length of the text (``len([BODY])`` counts a JSON
  array body's elements). ``has``: the path resolves to non-null; ``has([BODY])``: body not empty.
  Both only with ``[BODY]``, as Gatus's README says.
* ``pat``: glob of Go's ``filepath.Match`` (``*`` ``?`` ``[a-z]`` ``[^a-z]`` ``\\`` escapes) over
  the whole value. ``any``: comma-separated, trimmed options, exact match. Only with ``==``/``!=``.
* Placeholder names are case-insensitive (``[status]``); JSON keys are not.
* Failures describe resolved values, ``[STATUS] (500) == 200``, ``[BODY].x (INVALID) == 1``;
  successes show the condition as written.

Deviations from Gatus
---------------------
1. :func:`parse` rejects, with a position, what Gatus compares as literal text or mis-splits: a
   missing or second operator, unknown all-caps placeholders (``[STAUTS]``) and functions,
   unbalanced parentheses, ``len``/``has`` of anything but ``[BODY]``, ``pat``/``any`` with an
   ordering operator or on both sides, malformed globs, bad array indices, the ``[*]`` wildcard
   (not supported yet), ordering against non-numbers (``potato``, ``[IP]``, ``[CONNECTED]``,
   ``has``), which Gatus read as ``0``.
2. A value that cannot be resolved (missing path, non-JSON body, ``null``, a status, latency or IP
   the probe did not observe) fails the condition whatever the operator. Gatus compared the text
   ``... (INVALID)``, so ``!=`` passed, and took ``0`` for a missing status or latency.
3. A response value that is no number fails an ordering comparison (Gatus: ``0``).
4. Ordering is exact: decimals are not truncated to int64 (Gatus made ``0.7 > 0.5`` false), big
   integers are not capped at int64, sub-millisecond durations count.
5. JSON numbers render in plain decimal (``1000000``; Go printed ``1e+06``, so ``== 1000000``
   failed), arrays as compact JSON (Go printed ``[a b]``). A path must run through objects and
   arrays only; Gatus returned the scalar or array reached and ignored the rest of the path.
6. ``len`` counts characters, not UTF-8 bytes, of the trimmed body.
7. ``pat``: ``/`` is an ordinary character (Gatus deleted it from both sides, so ``pat(ab)``
   matched ``a/b``); matching is linear-time. Parentheses inside ``pat()``/``any()`` must balance
   (``\\`` escapes one in ``pat``), and an operator inside them belongs to the argument.
8. Response values are never read as functions (Gatus took a body ``pat(*)`` for a pattern).
9. Any whitespace may surround the operator; Gatus needs spaces.
10. Resolved values in descriptions are cut at 100 characters (Gatus: 25, for ``pat`` only), with
    non-printable characters escaped.
11. :func:`evaluate` given a string that does not parse returns a failed result.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any, Literal, TypeAlias, cast

from statpulse.model import ConditionResult, Observation

Operator: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")  # two-character ones first
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_PLACEHOLDERS = frozenset({"STATUS", "RESPONSE_TIME", "BODY", "IP", "CONNECTED"})
_FUNCTIONS = ("len", "has", "pat", "any")
_SHOWN_CHARS = 100


class ConditionError(ValueError):
    """Invalid condition; ``position`` is the 0-based offset of the problem in ``condition``.

    ``index`` is the condition's place in the list given to :func:`validate`, else None.
    """

    def __init__(self, condition: str, position: int, reason: str) -> None:
        super().__init__(f"{reason} at position {position} in '{condition}'")
        self.condition, self.position, self.reason = condition, position, reason
        self.index: int | None = None


# --- AST: every node keeps its source text and offset, for descriptions and errors ----------


@dataclass(frozen=True, slots=True)
class Value:
    """A side that resolves to text.

    Literal text has no ``placeholder``; ``[BODY].a[0]`` has placeholder ``BODY`` and path
    ``("a", 0)``; ``len(...)`` and ``has(...)`` set ``func``.
    """

    src: str
    start: int
    placeholder: str = ""
    path: tuple[str | int, ...] = ()
    func: str = ""


@dataclass(frozen=True, slots=True)
class CharClass:
    """One glob character: ``[a-z]``, ``[^a-z]``; ``?`` is the negated empty class."""

    negated: bool
    ranges: tuple[tuple[str, str], ...]

    def matches(self, char: str) -> bool:
        return any(lo <= char <= hi for lo, hi in self.ranges) != self.negated


@dataclass(frozen=True, slots=True)
class Matcher:
    """``pat(glob)`` or ``any(a, b, ...)``, compared with a :class:`Value` by ``==`` or ``!=``."""

    func: str
    src: str
    start: int
    options: tuple[str, ...] = ()  # any()
    glob: tuple[str | CharClass | None, ...] = ()  # pat(): characters, classes, None for '*'

    def matches(self, value: str) -> bool:
        if self.func == "any":
            return value in self.options
        # Backtracking only to the last '*' is enough for globs: O(len(glob) * len(value)).
        glob, p, i, star_p, star_i = self.glob, 0, 0, -1, 0
        while i < len(value):
            token = glob[p] if p < len(glob) else ""
            if token is None:
                star_p, star_i, p = p, i, p + 1
            elif token != "" and (
                token == value[i] if isinstance(token, str) else token.matches(value[i])
            ):
                p, i = p + 1, i + 1
            elif star_p >= 0:
                star_i += 1
                p, i = star_p + 1, star_i
            else:
                return False
        return all(t is None for t in glob[p:])


Operand: TypeAlias = Value | Matcher


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition, ``left operator right``; build it with :func:`parse`."""

    text: str
    operator: Operator
    left: Operand
    right: Operand

    @property
    def latency_only(self) -> bool:
        """True when it has placeholders and all are ``[RESPONSE_TIME]``."""
        sides = (self.left, self.right)
        names = [n.placeholder for n in sides if isinstance(n, Value) and n.placeholder]
        return bool(names) and all(name == "RESPONSE_TIME" for name in names)


# --- Tokenizer ------------------------------------------------------------------------------

_PLACEHOLDER_RE = re.compile(r"\[([A-Za-z_]+)\]")
_FUNCTION_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(")
_WORD_RE = re.compile(r"[^\s()]+")
_KEY_RE = re.compile(r"[^\s.\[\]()]+")
_INDEX_RE = re.compile(r"\[([0-9]{1,18})\]")
_OPERATOR_HINT_RE = re.compile(r"==|!=|<=|>=|<|>")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["op", "placeholder", "func", "raw", "(", ")", "word"]
    start: int
    end: int
    text: str
    name: str = ""  # of a placeholder or function
    path: tuple[str | int, ...] = ()


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif (op := _operator_at(text, i)) is not None:
            tokens.append(_Token("op", i, i + len(op), op))
            i += len(op)
        elif char in "()":
            tokens.append(_Token(")" if char == ")" else "(", i, i + 1, char))
            i += 1
        elif (m := _PLACEHOLDER_RE.match(text, i)) and (
            m[1].upper() in _PLACEHOLDERS or m[1].isupper()  # [hello] stays literal text
        ):
            i = _lex_placeholder(text, m, tokens)
        elif m := _FUNCTION_RE.match(text, i):
            i = _lex_call(text, m, tokens)
        else:
            word = cast(re.Match[str], _WORD_RE.match(text, i))
            tokens.append(_Token("word", i, word.end(), word[0]))
            i = word.end()
    return tokens


def _operator_at(text: str, i: int) -> str | None:
    if i > 0 and not text[i - 1].isspace():
        return None
    for op in _OPERATORS:
        end = i + len(op)
        if text.startswith(op, i) and (end == len(text) or text[end].isspace()):
            return op
    return None


def _lex_placeholder(text: str, m: re.Match[str], tokens: list[_Token]) -> int:
    name, i = m[1].upper(), m.end()
    path: list[str | int] = []
    if name not in _PLACEHOLDERS:
        known = ", ".join(f"[{p}]" for p in sorted(_PLACEHOLDERS))
        raise ConditionError(text, m.start(), f"unknown placeholder '{m[0]}' (known: {known})")
    while name == "BODY" and i < len(text) and text[i] in ".[":
        if text.startswith(".[", i):  # Gatus accepts "[BODY].[0]"
            i += 1
        elif text[i] == "." and (key := _KEY_RE.match(text, i + 1)):
            path.append(key[0])
            i = key.end()
        elif text[i] == ".":
            raise ConditionError(text, i + 1, "expected a key after '.'")
        elif text.startswith("[*]", i):
            raise ConditionError(text, i, "the [*] wildcard is not supported")
        elif index := _INDEX_RE.match(text, i):
            path.append(int(index[1]))
            i = index.end()
        else:
            raise ConditionError(text, i, "an array index must be an integer such as [0]")
    if i < len(text) and not text[i].isspace() and text[i] != ")":
        if text[i] in ".[":
            reason = f"{m[0]} takes no JSON path, only [BODY] does"
        elif _OPERATOR_HINT_RE.match(text, i):
            reason = "an operator needs a space on each side"
        else:
            reason = f"unexpected character {text[i]!r} after {m[0]}"
        raise ConditionError(text, i, reason)
    tokens.append(_Token("placeholder", m.start(), i, text[m.start() : i], name, tuple(path)))
    return i


def _lex_call(text: str, m: re.Match[str], tokens: list[_Token]) -> int:
    name, i, depth = m[1], m.end(), 0
    if name not in _FUNCTIONS:
        known = ", ".join(f"{f}()" for f in _FUNCTIONS)
        raise ConditionError(text, m.start(), f"unknown function '{name}()' (known: {known})")
    tokens.append(_Token("func", m.start(), i, m[0], name))
    if name in ("len", "has"):
        return i
    while i < len(text):  # pat() and any() take raw text up to the matching ')'
        if text[i] == "\\" and name == "pat":
            i += 1
        elif text[i] == "(":
            depth += 1
        elif text[i] == ")" and depth > 0:
            depth -= 1
        elif text[i] == ")":
            tokens.append(_Token("raw", m.end(), i, text[m.end() : i]))
            tokens.append(_Token(")", i, i + 1, ")"))
            return i + 1
        i += 1
    raise ConditionError(text, m.end() - 1, f"unclosed '(' of {name}()")


# --- Parser ---------------------------------------------------------------------------------


def parse(text: str) -> Condition:
    """Parse one condition. Raises :class:`ConditionError` for the first problem found."""
    tokens = _tokenize(text)
    ops = [t for t in tokens if t.kind == "op"]
    if not ops:
        for token in (t for t in tokens if t.kind == "word"):
            if hint := _OPERATOR_HINT_RE.search(token.text):
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


def _operand(text: str, tokens: list[_Token]) -> Operand:
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
            node = Matcher("pat", src, first.start, glob=_glob(text, raw.start, raw.end))
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
    if matchers and op in _ORDERING:
        reason = f"{matchers[0].func}() works only with == and !="
        raise ConditionError(text, matchers[0].start, reason)
    if len(matchers) == 2:
        raise ConditionError(text, right.start, "pat() and any() need a value to compare with")
    for node in (left, right) if op in _ORDERING else ():
        if isinstance(node, Matcher):
            continue
        if node.func == "has" or node.placeholder in ("IP", "CONNECTED"):
            reason = f"{node.src} is not a number"
        elif not node.placeholder and _to_number(node.src) is None:
            reason = f"'{node.src}' is not a number or a duration"
        else:
            continue
        raise ConditionError(text, node.start, f"{reason}; '{op}' compares numbers")


def _glob(text: str, i: int, end: int) -> tuple[str | CharClass | None, ...]:
    """The glob in ``text[i:end]``, Go ``filepath.Match`` syntax; ConditionError where Go fails."""
    glob: list[str | CharClass | None] = []
    while i < end:
        if text[i] == "*":
            if not glob or glob[-1] is not None:
                glob.append(None)
        elif text[i] == "?":
            glob.append(CharClass(True, ()))
        elif text[i] == "[":
            open_at, negated = i, text.startswith("^", i + 1)
            i += 2 if negated else 1
            ranges: list[tuple[str, str]] = []
            while i >= end or text[i] != "]" or not ranges:
                lo, i = _glob_char(text, i, end, open_at)
                hi = lo
                if text.startswith("-", i):
                    hi, i = _glob_char(text, i + 1, end, open_at)
                ranges.append((lo, hi))  # lo > hi matches nothing, as in Go
            glob.append(CharClass(negated, tuple(ranges)))
        else:  # the tokenizer made sure an escaping backslash is followed by a character
            i += 1 if text[i] == "\\" else 0
            glob.append(text[i])
        i += 1
    return tuple(glob)


def _glob_char(text: str, i: int, end: int, open_at: int) -> tuple[str, int]:
    if i < end and text[i] in "-]":
        raise ConditionError(text, i, f"unexpected '{text[i]}' in a pattern's [...]")
    if i < end and text[i] == "\\":
        i += 1
    if i >= end:
        raise ConditionError(text, open_at, "unclosed '[' in pattern")
    return text[i], i + 1


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


# --- Numbers --------------------------------------------------------------------------------

# Go accepts both the micro sign (U+00B5) and the Greek mu (U+03BC) for microseconds.
_DURATION_RE = re.compile("([0-9]*)(?:\\.([0-9]*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6, "s": 10**9}
_UNIT_NS |= {"m": 60 * 10**9, "h": 3600 * 10**9}
_GO_INT_RE = re.compile(r"[+-]?[0-9][0-9A-Za-z_]{0,80}")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
_INF_NAN_RE = re.compile(r"[+-]?inf(?:inity)?|nan", re.IGNORECASE)
_INT64 = 2**63


def _go_duration_ms(s: str) -> Fraction | None:
    """Milliseconds of a Go ``time.ParseDuration`` string (``300ms``, ``-1h30m``), else None."""
    body = s[1:] if s[:1] in ("+", "-") else s
    total, i = Fraction(), 0
    while i < len(body):
        part = _DURATION_RE.match(body, i)
        if part is None or not (part[1] or part[2]) or len(part[0]) > 40:
            return None
        total += Fraction(f"{part[1] or 0}.{part[2] or 0}") * _UNIT_NS[part[3]]
        i = part.end()
    if not body or total >= _INT64:  # Go's durations are int64 nanoseconds
        return None
    return Fraction(-int(total) if s.startswith("-") else int(total), 10**6)


def _go_int(s: str) -> int | None:
    """``strconv.ParseInt(s, 0, 64)``, or None where Go fails.

    Python's rules for base prefixes and ``_`` are Go's; only Go's leading-zero octal differs.
    """
    if not _GO_INT_RE.fullmatch(s):
        return None
    sign, digits = s[0] if s[0] in "+-" else "", s.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "bBoOxX":
        digits = "0o" + digits[1:]
    try:
        value = int(sign + digits, 0)
    except ValueError:
        return None
    return value if -_INT64 <= value < _INT64 else None


def _to_number(s: str) -> int | float | Fraction | None:
    """A value for ordering: a Go duration in ms, a Go integer or a decimal, else None."""
    duration = _go_duration_ms(s)
    if duration is not None:
        return duration
    integer = _go_int(s)
    if integer is not None:
        return integer
    if len(s) <= 400 and _DECIMAL_RE.fullmatch(s):
        return Fraction(s)  # exact: no rounding surprises in comparisons
    return float(s) if _INF_NAN_RE.fullmatch(s) else None


def _go_equal(a: str, b: str) -> bool:
    x, y = _go_int(a), _go_int(b)
    return x == y if x is not None and y is not None else a == b


# --- Resolution -----------------------------------------------------------------------------


def _json_float(s: str) -> int | float:
    number = float(s)
    # Integral values become ints, so 1.0 reads "1" (as in Gatus) and 1e6 "1000000".
    return int(number) if number.is_integer() and abs(number) < 1e21 else number


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity; Go does not


def _render(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


_NOT_JSON = object()


class _Resolver:
    """Values of one observation; decodes and parses the body at most once, when needed."""

    def __init__(self, obs: Observation) -> None:
        self.obs = obs

    @cached_property
    def body(self) -> str:
        return self.obs.body.decode("utf-8", errors="replace").strip()

    @cached_property
    def document(self) -> object:
        """The body as JSON, or ``_NOT_JSON``."""
        try:
            return json.loads(self.body, parse_float=_json_float, parse_constant=_not_json)
        except (ValueError, RecursionError):
            return _NOT_JSON

    def node(self, path: tuple[str | int, ...]) -> object:
        """The JSON value at a ``[BODY]`` path; None if missing, null, or the body is no JSON."""
        node: Any = self.document
        for step in path:
            if isinstance(step, str):
                found = isinstance(node, dict) and step in node
            else:
                found = isinstance(node, list) and step < len(node)
            if not found:
                return None
            node = node[step]
        return None if node is _NOT_JSON else node

    def value(self, node: Operand) -> str | None:
        """The text a value resolves to; None when it cannot be resolved (and for matchers)."""
        try:
            return self._value(node) if isinstance(node, Value) else None
        except RecursionError:  # absurdly deep JSON, treated like unreadable data
            return None

    def _value(self, v: Value) -> str | None:
        obs, name = self.obs, v.placeholder
        if not name:
            return v.src
        if name == "STATUS":
            return None if obs.status_code is None else str(obs.status_code)
        if name == "RESPONSE_TIME":  # whole milliseconds, truncated as in Gatus
            ms = obs.latency_ms
            return str(int(ms)) if ms is not None and math.isfinite(ms) else None
        if name == "IP":
            return obs.ip
        if name == "CONNECTED":
            return "true" if obs.connected else "false"
        if v.func == "has":
            present = self.node(v.path) is not None if v.path else bool(self.body)
            return "true" if present else "false"
        if v.func == "len" and not v.path:
            document = self.document
            return str(len(document if isinstance(document, list) else self.body))
        node = self.node(v.path) if v.path else self.body
        if node is None:
            return None
        if v.func == "len":
            return str(len(node if isinstance(node, list) else _render(node)))
        return _render(node)


# --- Evaluation -----------------------------------------------------------------------------


def evaluate(condition: Condition | str, obs: Observation) -> ConditionResult:
    """Judge one condition against an observation. Never raises.

    A string that does not parse gives a failed result described as ``invalid condition: ...``.
    """
    return _evaluate(condition, _Resolver(obs))


def evaluate_all(conditions: Sequence[Condition | str], obs: Observation) -> list[ConditionResult]:
    """Judge every condition, in order, decoding the body at most once. Never raises."""
    resolver = _Resolver(obs)
    return [_evaluate(condition, resolver) for condition in conditions]


def _evaluate(condition: Condition | str, resolver: _Resolver) -> ConditionResult:
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
        return _go_equal(lvalue, rvalue) == (op == "==")
    a, b = _to_number(lvalue), _to_number(rvalue)
    return a is not None and b is not None and bool(_ORDERING[op](a, b))


def _shown(node: Operand, value: str | None) -> str:
    if isinstance(node, Matcher) or not node.placeholder or value == node.src:
        return node.src
    if value is None:
        return f"{node.src} (INVALID)"
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value[:_SHOWN_CHARS])
    return f"{node.src} ({shown}{'...(truncated)' if len(value) > _SHOWN_CHARS else ''})"
