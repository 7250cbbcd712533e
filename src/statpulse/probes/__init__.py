"""Probes: one file per kind of check, all with the ``Probe`` signature, registered below.

A probe returns an ``Observation`` for every outcome; a failing target is data, not an
exception. See ``base`` for the shared context, ``timing`` for phase timing, ``errors`` for
exception translation; every connection goes through ``ctx.egress`` (security/egress.py).
"""

from statpulse.probes.base import Probe, ProbeContext
from statpulse.probes.dns import probe_dns
from statpulse.probes.grpc import probe_grpc
from statpulse.probes.http import probe_http
from statpulse.probes.tcp import probe_tcp
from statpulse.probes.tls import probe_tls

PROBES: dict[str, Probe] = {
    "http": probe_http,
    "tcp": probe_tcp,
    "grpc": probe_grpc,
    "dns": probe_dns,
    "tls": probe_tls,
}

__all__ = [
    "PROBES",
    "Probe",
    "ProbeContext",
    "probe_dns",
    "probe_grpc",
    "probe_http",
    "probe_tcp",
    "probe_tls",
]
