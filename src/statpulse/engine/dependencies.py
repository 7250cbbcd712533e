"""Dependency folding (pure: no I/O).

A monitor may name one parent (the host, the database it needs). When a parent fails, its
failing children are folded into the parent's incident: one notification, not thirty.

``validate_parents`` checks a parent map at config time and raises ValueError naming a monitor
on a cycle (or one that is its own parent). ``roots`` maps each failing monitor to its root: the
highest ancestor reached by climbing through *failing* parents only. A failing monitor whose
parent is up is its own root, even if a grandparent is failing: the healthy parent shows the
failure is not the grandparent's. Folding terminates on any map, cyclic ones too: the members
of a cycle of failing monitors all take the cycle's smallest member (by ``str``) as root.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Set
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def validate_parents(parents: Mapping[K, K | None]) -> None:
    """Return None when following parents from every monitor ends; else raise ValueError
    ``parent: monitor <id> depends on itself through <id> -> ... -> <id>``."""
    done: set[K] = set()
    for start in parents:
        path: list[K] = []
        node: K | None = start
        while node is not None and node not in done:
            if node in path:
                cycle = " -> ".join(str(n) for n in [*path[path.index(node) :], node])
                raise ValueError(f"parent: monitor {node} depends on itself through {cycle}")
            path.append(node)
            node = parents.get(node)
        done.update(path)


def roots(failing: Set[K], parents: Mapping[K, K | None]) -> dict[K, K]:
    """For each failing monitor, its root failing ancestor (see the module docstring)."""
    result: dict[K, K] = {}
    for start in failing:
        path: list[K] = [start]
        seen = {start}
        node = start
        root: K | None = None
        while root is None:
            parent = parents.get(node)
            if parent is None or parent not in failing:
                root = node
            elif parent in result:
                root = result[parent]
            elif parent in seen:
                cycle = path[path.index(parent) :]
                root = min(cycle, key=str)
            else:
                path.append(parent)
                seen.add(parent)
                node = parent
        for member in path:
            result[member] = root
    return result


def fold(failing: Set[K], parents: Mapping[K, K | None]) -> dict[K, frozenset[K]]:
    """Failing monitors grouped by root: ``{root: every failing monitor folded into it}``
    (the root included). One incident or notification per key."""
    groups: dict[K, set[K]] = {}
    for monitor, root in roots(failing, parents).items():
        groups.setdefault(root, set()).add(monitor)
    return {root: frozenset(members) for root, members in groups.items()}
