"""``statpulse demo``: a built-in target on loopback and a seeded organisation and page."""
