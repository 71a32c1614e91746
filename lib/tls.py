"""TLS client contexts shared by the probes and the email channel, built once per process."""

from __future__ import annotations

import functools
import ssl


@functools.lru_cache(maxsize=4)
def verifying_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """The verifying client context: system CAs, plus ``ca_bundle`` (a PEM file) if given.

    Built once per bundle path and shared (loading the CA store costs milliseconds). The probe
    passes ``os.environ.get("NANOMON_HTTP_CA_BUNDLE")`` on every call, so setting the variable
    adds a private CA to the system store (for internal services and tests) without a restart
    hook. Python's default context also honours OpenSSL's ``SSL_CERT_FILE``, but that variable
    *replaces* the system store for the whole process; this one only adds. The file is read
    once per path: to pick up a changed file, restart the worker.
    """
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


@functools.lru_cache(maxsize=1)
def insecure_context() -> ssl.SSLContext:
    """The context for ``validateTLS=false``: no chain or hostname check, same protocols."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # must be turned off before verify_mode
    context.verify_mode = ssl.CERT_NONE
    return context
