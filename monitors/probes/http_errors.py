"""The ``http`` probe's failure messages: every exception a request can raise, as the short
human message a Failed run shows (``describe_failure``; the table is in its docstring).

Part of the ``http`` monitor type (``monitors.probes.http``); plain Python, no Django.
"""

from __future__ import annotations

import errno
import socket
import ssl

import aiohttp

from lib.durations import format_seconds
from monitors.probes.base import describe_error

# OpenSSL X509_V_ERR_* codes (ssl.SSLCertVerificationError.verify_code).
_CERT_EXPIRED = 10
_CERT_NOT_YET_VALID = 9
_CERT_REVOKED = 23
_CERT_UNTRUSTED = frozenset(
    {
        2,  # unable to get issuer certificate
        18,  # self-signed certificate
        19,  # self-signed certificate in chain
        20,  # unable to get local issuer certificate
        21,  # unable to verify the first certificate
        24,  # invalid CA certificate
        27,  # certificate not trusted
        28,  # certificate rejected
    }
)
_HOST_MISMATCH = frozenset({62, 64})  # hostname mismatch, IP address mismatch

_CONNECT_ERRNOS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connection timed out",
}


def describe_certificate_error(error: Exception) -> str:
    """The message for a failed certificate check (``ssl.SSLCertVerificationError``), by its
    OpenSSL verify code; shared with the ``tls`` probe so both types say the same."""
    code = getattr(error, "verify_code", None)
    if code == _CERT_EXPIRED:
        return "TLS certificate expired"
    if code == _CERT_NOT_YET_VALID:
        return "TLS certificate not yet valid"
    if code == _CERT_REVOKED:
        return "TLS certificate revoked"
    if code in _CERT_UNTRUSTED:
        return "TLS certificate not trusted"
    if code in _HOST_MISMATCH:
        return "TLS hostname mismatch"
    reason = getattr(error, "verify_message", None) or describe_error(error)
    return f"TLS certificate invalid: {reason}"


def describe_failure(error: BaseException, timeout: float) -> str:
    """The short human message for an exception raised while probing (order matters).

    ==========================================  =====================================
    exception                                   message
    ==========================================  =====================================
    any TimeoutError (ours or aiohttp's)        ``timed out after <timeout>``
    TooManyRedirects                            ``too many redirects``
    NonHttpUrlRedirectClientError               ``redirect to a non-HTTP URL``
    InvalidUrlRedirectClientError               ``invalid redirect URL``
    InvalidURL, NonHttpUrlClientError,          ``invalid URL``
    UnicodeError (a host IDNA cannot encode)
    ClientConnectorCertificateError             by verify_code: ``TLS certificate
                                                expired`` / ``not yet valid`` /
                                                ``revoked`` / ``not trusted``,
                                                ``TLS hostname mismatch``, else
                                                ``TLS certificate invalid: <reason>``
    ClientConnectorSSLError                     ``TLS handshake failed``
    ssl.SSLError (after the handshake)          ``TLS error``
    ClientConnectorDNSError, gaierror           ``could not resolve host``
    ClientConnectorError by errno               ``connection refused`` / ``reset``,
                                                ``host unreachable``, ``network
                                                unreachable``, ``connection timed out``,
                                                else ``could not connect: <reason>``
    ServerDisconnectedError                     ``server closed the connection``
    ConnectionResetError, ECONNRESET            ``connection reset``
    ClientPayloadError                          ``incomplete response body``
    ClientResponseError (unparsable reply)      ``invalid HTTP response``
    anything else                               ``describe_error`` (first line)
    ==========================================  =====================================
    """
    if isinstance(error, TimeoutError):
        return f"timed out after {format_seconds(timeout)}"
    if isinstance(error, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(error, aiohttp.NonHttpUrlRedirectClientError):
        return "redirect to a non-HTTP URL"
    if isinstance(error, aiohttp.InvalidUrlRedirectClientError):
        return "invalid redirect URL"
    if isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError | UnicodeError):
        return "invalid URL"
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return describe_certificate_error(error.certificate_error)
    if isinstance(error, aiohttp.ClientConnectorSSLError):
        return "TLS handshake failed"
    if isinstance(error, ssl.SSLError):  # after the handshake: a broken TLS stream
        return "TLS error"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return "could not resolve host"
    if isinstance(error, aiohttp.ClientConnectorError):
        if isinstance(error.os_error, socket.gaierror):
            return "could not resolve host"
        if error.errno in _CONNECT_ERRNOS:
            return _CONNECT_ERRNOS[error.errno]
        return f"could not connect: {error.strerror or describe_error(error.os_error)}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "server closed the connection"
    if isinstance(error, ConnectionResetError) or (
        isinstance(error, OSError) and error.errno == errno.ECONNRESET
    ):
        return "connection reset"
    if isinstance(error, aiohttp.ClientPayloadError):
        return "incomplete response body"
    if isinstance(error, aiohttp.ClientResponseError):
        return "invalid HTTP response"
    return describe_error(error)
