"""ConditionError: an invalid condition, with where in its text the problem is and why."""

from __future__ import annotations


class ConditionError(ValueError):
    """Invalid condition; ``position`` is the 0-based offset of the problem in ``condition``.

    ``index`` is the condition's place in the list given to :func:`validate`, else None.
    """

    def __init__(self, condition: str, position: int, reason: str) -> None:
        super().__init__(f"{reason} at position {position} in '{condition}'")
        self.condition, self.position, self.reason = condition, position, reason
        self.index: int | None = None
