"""SSL contexts built from a monitor's own PEM material (extra CAs, a client certificate).

Building a context costs milliseconds (parsing, key loading), so contexts are cached by a
digest of their inputs, least recently used first out. The client key never touches the disk:
``load_cert_chain`` wants a path, so the PEM goes through an anonymous in-memory file
(``memfd_create``) read back via ``/proc/self/fd``.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from statpulse.probes.timing import tls_context

_MAX_CONTEXTS = 256


@contextmanager
def _memory_file(data: str) -> Iterator[str]:
    """A path whose contents are ``data``, kept in memory where the OS allows it."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("statpulse-pem", os.MFD_CLOEXEC)
        try:
            os.write(fd, data.encode())
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as handle:  # pragma: no cover
        handle.write(data)
        handle.flush()
        yield handle.name


def build_context(
    *, verify: bool, ca_cert: str | None, client_cert: str | None, client_key: str | None
) -> ssl.SSLContext:
    """A context like ``tls_context(verify=...)`` plus the given PEM material.
    Raises ``ssl.SSLError`` (or ValueError) when the PEM cannot be used."""
    context = tls_context(verify=verify)
    if ca_cert is not None:
        context.load_verify_locations(cadata=ca_cert)
    if client_cert is not None:
        with _memory_file(client_cert) as cert_path, _memory_file(client_key or "") as key_path:
            context.load_cert_chain(cert_path, key_path if client_key else None)
    return context


class TlsContextCache:
    def __init__(self, size: int = _MAX_CONTEXTS) -> None:
        self._size = size
        self._contexts: OrderedDict[bytes, ssl.SSLContext] = OrderedDict()

    def get(
        self, verify: bool, ca_cert: str | None, client_cert: str | None, client_key: str | None
    ) -> ssl.SSLContext:
        digest = hashlib.sha256()
        for part in (str(verify), ca_cert, client_cert, client_key):
            digest.update(b"\0" if part is None else b"\1" + part.encode() + b"\0")
        key = digest.digest()
        context = self._contexts.get(key)
        if context is None:
            context = build_context(
                verify=verify, ca_cert=ca_cert, client_cert=client_cert, client_key=client_key
            )
            self._contexts[key] = context
            if len(self._contexts) > self._size:
                self._contexts.popitem(last=False)
        else:
            self._contexts.move_to_end(key)
        return context
