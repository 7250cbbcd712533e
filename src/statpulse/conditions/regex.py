"""Regular expressions for ``re()``/``regex()``, on RE2: no backtracking, time linear in the text.

RE2's time is at worst proportional to the compiled program's size times the text's length, so
the text searched is capped by a budget of the two: ordinary patterns search the first MiB of a
value, very large ones (``.{1000}``, ``\\pL`` classes) fewer characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import re2  # type: ignore[import-untyped]

from statpulse.conditions.errors import ConditionError

MAX_SUBJECT = 1 << 20
"""Characters of a value searched at most."""
_BUDGET = 1 << 25
"""Program size times characters searched: about 0.1 s for the worst patterns."""
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors become ConditionErrors instead of lines on stderr


@dataclass(frozen=True, slots=True)
class Regex:
    """A compiled pattern; ``window`` is how many characters of a value it searches."""

    pattern: str
    window: int
    compiled: Any = field(compare=False, repr=False)

    def search(self, value: str) -> bool | None:
        """Whether the pattern occurs in ``value``; None when it does not occur in the part
        searched of a longer value, so that the answer is unknown."""
        try:
            found = self.compiled.search(value, 0, self.window) is not None
        except UnicodeEncodeError:  # a lone surrogate, from a JSON "\\ud800" escape
            safe = value.encode("utf-8", "replace").decode("utf-8")
            found = self.compiled.search(safe, 0, self.window) is not None
        # RE2 sees the text past the window as context: '$' or '\b' at its edge do not match.
        if found or len(value) <= self.window:
            return found
        return None


def compile_regex(text: str, start: int, end: int) -> Regex:
    """The regular expression ``text[start:end]`` (RE2 syntax); ConditionError if invalid."""
    pattern = text[start:end]
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ConditionError(text, start, f"invalid regular expression: {reason}") from exc
    except UnicodeEncodeError as exc:
        raise ConditionError(text, start, "invalid regular expression: bad text") from exc
    window = min(MAX_SUBJECT, _BUDGET // max(1, int(compiled.programsize)))
    return Regex(pattern, window, compiled)
