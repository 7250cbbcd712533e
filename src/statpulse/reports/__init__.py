"""Answers computed from the store: range stats, SLO status and the monthly SLA report."""
