"""Appends and acks on a spool until SIGKILLed; driven by ``test_spool.py``.

Usage: ``python spool_child.py DIRECTORY SEED``. After its imports it waits for a line on stdin
(so the parent can start the next child while the current one runs), opens the spool, then
loops. Every event is one flushed stdout line:

- ``ready``: the spool is open;
- ``W <ids>`` before an append, ``A`` after it returned (``F`` when it raised SpoolFull);
- ``P <ids>`` before acking through the last of those ids, ``K`` after the ack returned.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from pathlib import Path

from statpulse.logging import configure
from statpulse.model import CheckResult, new_id
from statpulse.runner.spool import Spool, SpoolFull

AT = datetime(2026, 11, 23, tzinfo=UTC)


def say(*words: str) -> None:
    print(*words, flush=True)


def main() -> None:
    directory, seed = Path(sys.argv[1]), int(sys.argv[2])
    configure("warning")  # logs go to stderr: stdout is the protocol
    rng = random.Random(seed)
    sys.stdin.readline()
    spool = Spool(directory, capacity_bytes=64 * 2**10, segment_bytes=4096)
    say("ready")
    while True:
        if rng.random() < 0.3:
            pending = spool.pending(rng.randint(1, 100))
            if pending:
                cut = pending[: rng.randint(1, len(pending))]
                say("P", *(str(r.id) for _, r in cut))
                spool.ack(cut[-1][0])
                say("K")
        batch = [
            CheckResult(new_id(), new_id(), "eu", AT, AT, rng.random() * 100, rng.random() < 0.9)
            for _ in range(rng.randint(1, 30))
        ]
        say("W", *(str(r.id) for r in batch))
        try:
            spool.append(batch)
        except SpoolFull:
            say("F")
            continue
        say("A")


if __name__ == "__main__":
    main()
