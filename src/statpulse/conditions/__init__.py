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
12. A failing condition whose only placeholder is ``[RESPONSE_TIME]`` makes the check degraded,
    not failed (the runner's judge does this; :attr:`Condition.latency_only` marks such
    conditions).
"""

from __future__ import annotations

from statpulse.conditions.errors import ConditionError
from statpulse.conditions.evaluation import evaluate, evaluate_all
from statpulse.conditions.nodes import Condition
from statpulse.conditions.parser import parse, validate

__all__ = ["Condition", "ConditionError", "evaluate", "evaluate_all", "parse", "validate"]
