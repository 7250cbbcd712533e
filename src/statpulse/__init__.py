"""StatPulse: self-hostable API status monitor."""

__version__ = "0.1.0"
