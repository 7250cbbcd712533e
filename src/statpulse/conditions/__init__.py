"""Check conditions in Gatus's syntax, parsed once into a small AST and judged per Observation.

A condition is ``<value> <operator> <value>``: ``[STATUS] == 200``, ``[BODY].data[0].id == 1``,
``len([BODY].items) > 0``, ``[IP] == pat(10.*)``, ``[RESPONSE_TIME] < 300ms``, or several such
comparisons joined by ``||``. The operator (``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=``, and ``||``)
needs whitespace on both sides, as values may hold ``<``, ``=`` or ``|`` (``pat(*<h1>*)``). A
value is a placeholder, ``len(...)``, ``has(...)``, ``pat(glob)``, ``any(a, b)``, ``re(regex)``
(or ``regex(regex)``), or literal text taken as written, quotes included.

Placeholders (names are case-insensitive; JSON keys and literals are not):

* Gatus's: ``[STATUS]``; ``[RESPONSE_TIME]`` in whole ms; ``[IP]``; ``[CONNECTED]``; ``[BODY]``
  with an optional JSON path like ``.a.b[0]`` or ``[0].id``; ``[CERTIFICATE_EXPIRATION]``, the
  time left until the certificate's not_after at ``now`` (see 14); ``[DNS_RCODE]`` (``NOERROR``,
  ``NXDOMAIN`` ...); ``[HEADER].Name`` (Gatus's spelling of ``[HEADERS].Name``).
* StatPulse's: ``[HEADERS].Name``, a response header by case-insensitive name;
  ``[DNS_TIME]``, ``[CONNECT_TIME]``, ``[TLS_TIME]``, ``[FIRST_BYTE_TIME]``, phase timings in ms
  to the microsecond (``12.5``); ``[HTTP_VERSION]`` (``1.1``, ``2``; a probe's ``2.0`` reads
  ``2``); ``[REDIRECTS]``, the count of redirects followed; ``[TLS_VERSION]`` (``TLSv1.3``);
  ``[CERTIFICATE_ISSUER]`` and ``[CERTIFICATE_SUBJECT]`` (RFC 4514:
  ``CN=R11,O=Let's Encrypt,C=US``); ``[CERTIFICATE_SANS]``; ``[CERTIFICATE_VALID]``, ``true``
  when the chain verified and names the host; ``[DNS_ANSWERS]``, every answer record as the
  probe wrote it (``10 mail.example.com.``); ``[GRPC_STATUS]`` (``SERVING``, ``NOT_SERVING``,
  ``UNKNOWN``, ``SERVICE_UNKNOWN``).
* A gRPC check's ``[BODY]`` is ``{"status":"SERVING"}``, so Gatus's ``[BODY].status == SERVING``
  works; a DNS check's ``[BODY]`` is the list of its answers' values (see 13).

Lists (``[CERTIFICATE_SANS]``, ``[DNS_ANSWERS]``, a DNS check's ``[BODY]``): ``==``, ``pat``,
``any``, ``re`` and the ordering operators hold when some element does; ``!=`` when none equals
(or matches), so an empty list is ``!=`` anything. ``[CERTIFICATE_SANS][0]`` is one element,
``len()`` counts elements, ``has()`` says the list is not empty (or the element exists).
Descriptions show a list as JSON: ``[CERTIFICATE_SANS] (["a.test","b.test"]) == c.test``.

Gatus semantics followed (TwiN/gatus ``config/endpoint/condition.go``, ``placeholder.go``,
``jsonpath/jsonpath.go``, ``pattern/pattern.go``, ``client/client.go``, README "Conditions"):

* ``==``/``!=``: two Go integers (``strconv.ParseInt(s, 0, 64)``: ``0x`` ``0o`` ``0b``, leading
  ``0`` octal, ``_`` separators) compare as integers, anything else as exact strings: ``1.0 != 1``.
* ``<`` ``<=`` ``>`` ``>=``: a value reads as a Go duration in ms (``300ms``, ``1.5s``, ``1h30m``),
  else an integer as above, else a decimal; on either side, also for values from the response.
* ``[BODY]`` is the trimmed body. A path yields a string as is, numbers, ``true``/``false``,
  objects as compact JSON with sorted keys; ``null`` or a missing path is INVALID.
* ``len``: an array's element count, else the length of the text (``len([BODY])`` counts a JSON
  array body's elements). ``has``: the path resolves to non-null; ``has([BODY])``: body not empty;
  ``has([HEADERS].Name)``: the header is present. Both take ``[BODY]``, a header, or a list.
* ``pat``: glob of Go's ``filepath.Match`` (``*`` ``?`` ``[a-z]`` ``[^a-z]`` ``\\`` escapes) over
  the whole value. ``any``: comma-separated, trimmed options, exact match. Only with ``==``/``!=``.
* Failures describe resolved values, ``[STATUS] (500) == 200``, ``[BODY].x (INVALID) == 1``;
  successes show the condition as written.

Extensions
----------
* ``a || b || c`` holds when any comparison does; ``||`` binds looser than the operators and there
  is no grouping. A failure describes every side, ``[STATUS] (500) == 200 || [STATUS] (500) ==
  204``; a success reads as written. (A condition list is already an "and".)
* ``re(regex)``/``regex(regex)``: RE2 syntax (no back-references or look-around), searched
  anywhere in the value (anchor with ``^``/``$``; ``(?i)`` for case), only with ``==``/``!=``,
  invalid patterns rejected by :func:`parse`. RE2 runs in time linear in the text, without
  backtracking; the text searched is capped (:mod:`statpulse.conditions.regex`: the first MiB for
  ordinary patterns). Past the cap nothing is known, so a longer value without a match in it
  fails both ``==`` and ``!=``, said so in the description.
* Durations also take days: ``7d``, ``30d``, ``1d12h`` (so ``[CERTIFICATE_EXPIRATION] > 30d``).
* :func:`evaluate` and :func:`evaluate_all` take ``now`` (default: the current UTC time, read once
  per call); naive datetimes count as UTC.

Deviations from Gatus
---------------------
1. :func:`parse` rejects, with a position, what Gatus compares as literal text or mis-splits: a
   missing or second operator (hinting at ``||`` for ``or`` and at separate conditions for
   ``&&``/``and``), unknown all-caps placeholders (``[STAUTS]``; also Gatus's
   ``[DOMAIN_EXPIRATION]`` and ``[CONTEXT]``, not supported) and functions (also ``age()``),
   unbalanced parentheses, ``len``/``has`` of anything but ``[BODY]``, a header or a list (Gatus
   took ``len([STATUS])`` as the length of ``200``), ``pat``/``any``/``re`` with an ordering
   operator or on both sides, malformed globs and regexes, bad array indices, the ``[*]``
   wildcard (not supported yet), ordering against non-numbers (``potato``, ``[IP]``,
   ``[CONNECTED]``, ``has``, text placeholders such as ``[DNS_RCODE]``, a whole list), which
   Gatus read as ``0``.
2. A value that cannot be resolved (missing path, non-JSON body, ``null``, a missing header, a
   status, latency, timing, IP, certificate, DNS answer or gRPC status the probe did not observe)
   fails the condition whatever the operator. Gatus compared the text ``... (INVALID)``, so
   ``!=`` passed; it took ``0`` for a missing status, latency or certificate
   (``[CERTIFICATE_EXPIRATION] < 48h`` passed without TLS) and ``""`` for a missing DNS rcode.
3. A response value that is no number fails an ordering comparison (Gatus: ``0``).
4. Ordering is exact: decimals are not truncated to int64 (Gatus made ``0.7 > 0.5`` false), big
   integers and durations are not capped at int64 (Gatus's durations end at about 290 years),
   sub-millisecond durations count.
5. JSON numbers render in plain decimal (``1000000``; Go printed ``1e+06``, so ``== 1000000``
   failed), arrays as compact JSON (Go printed ``[a b]``). A path must run through objects and
   arrays only; Gatus returned the scalar or array reached and ignored the rest of the path.
6. ``len`` counts characters, not UTF-8 bytes, of the trimmed body.
7. ``pat``: ``/`` is an ordinary character (Gatus deleted it from both sides, so ``pat(ab)``
   matched ``a/b``); matching is linear-time. Parentheses inside ``pat()``/``any()``/``re()``
   must balance (``\\`` escapes one in ``pat`` and ``re``), and an operator inside them belongs
   to the argument.
8. Response values are never read as functions (Gatus took a body ``pat(*)`` for a pattern).
9. Any whitespace may surround the operator; Gatus needs spaces.
10. Resolved values in descriptions are cut at 100 characters (Gatus: 25, for ``pat`` only), with
    non-printable characters escaped.
11. :func:`evaluate` given a string that does not parse returns a failed result.
12. A failing condition whose placeholders are all timings (``[RESPONSE_TIME]``, ``[DNS_TIME]``,
    ``[CONNECT_TIME]``, ``[TLS_TIME]``, ``[FIRST_BYTE_TIME]``; with ``||``, on every side) makes
    the check degraded, not failed (the runner's judge does this;
    :attr:`Condition.latency_only` marks such conditions). A timing the probe did not observe
    fails such a condition too, so it also only degrades.
13. A DNS check's ``[BODY]`` is every answer's value, as a list: ``[BODY] == 192.0.2.1`` holds
    when some answer is that address. Gatus's body was the last A, AAAA, CNAME, MX or NS answer
    only (so it depended on the answer order) and ``query type is not supported yet`` for other
    types. Values are written as Gatus writes them (names keep their final dot, an MX answer is
    its exchange without the preference); a TXT answer is its strings joined (``v=spf1 -all``),
    other types their record's text. ``[DNS_ANSWERS]`` keeps each record's text (MX with its
    preference).
14. ``[CERTIFICATE_EXPIRATION]`` resolves to the time left, truncated to whole ms, written as a
    duration (``51d3h0.25s``; negative once expired), which ordering reads in ms, so both
    ``> 30d`` and Gatus's ``> 2592000000`` work; Gatus's value was the ms number, shown as
    ``1227h``. Days are a duration unit everywhere, also in response values (``"8d"``).
15. ``[HEADER].Name`` (or ``[HEADERS].Name``) of a repeated header is its values joined with
    ``, `` (RFC 9110), as the HTTP probe keeps them; Gatus took the first value.
"""

from __future__ import annotations

from statpulse.conditions.errors import ConditionError
from statpulse.conditions.evaluation import evaluate, evaluate_all
from statpulse.conditions.nodes import Comparison, Condition
from statpulse.conditions.parser import parse, validate

__all__ = [
    "Comparison",
    "Condition",
    "ConditionError",
    "evaluate",
    "evaluate_all",
    "parse",
    "validate",
]
