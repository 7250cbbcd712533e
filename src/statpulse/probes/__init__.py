"""Probes: one file per kind of check, all with the ``Probe`` signature, registered below.

A probe returns an ``Observation`` for every outcome; a failing target is data, not an
exception. See ``base`` for the shared context, timing and error translation.
"""

from statpulse.probes.base import Probe, ProbeContext
from statpulse.probes.http import probe_http
from statpulse.probes.tcp import probe_tcp

PROBES: dict[str, Probe] = {"http": probe_http, "tcp": probe_tcp}

__all__ = ["PROBES", "Probe", "ProbeContext", "probe_http", "probe_tcp"]
