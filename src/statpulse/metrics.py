"""Prometheus metrics, one registry per process-level app (no global registry: tests build many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LATENESS_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.checks = Counter(
            "statpulse_checks",
            "Checks run, by probe kind and outcome.",
            ["kind", "outcome"],
            registry=r,
        )
        self.check_duration = Histogram(
            "statpulse_check_duration_seconds",
            "Duration of checks.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.lateness = Histogram(
            "statpulse_scheduler_lateness_seconds",
            "How late checks start after their scheduled time.",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.missed = Counter(
            "statpulse_checks_missed",
            "Scheduled runs not executed, by reason.",
            ["reason"],
            registry=r,
        )
        self.results_ingested = Counter(
            "statpulse_results_ingested", "Check results stored (duplicates excluded).", registry=r
        )
        self.upload_errors = Counter(
            "statpulse_result_upload_errors", "Failed result batch uploads (retried).", registry=r
        )
        self.state_changes = Counter(
            "statpulse_state_changes", "Monitor state changes, by new status.", ["to"], registry=r
        )

        self.region_healthy = Gauge(
            "statpulse_region_healthy",
            "1 while some runner of the region reports, 0 once all fell silent.",
            ["region"],
            registry=r,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
