"""``python -m statpulse`` is the ``statpulse`` command."""

from statpulse.cli import main

main()
