"""The http probe's failure messages (monitors.probes.http_errors) for what loopback cannot
stage; the ones loopback can stage are checked end to end in test_http.py."""

from __future__ import annotations

import ssl

import aiohttp
import pytest

from monitors.probes.http_errors import describe_failure


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (23, "TLS certificate revoked"),
        (19, "TLS certificate not trusted"),
        (62, "TLS hostname mismatch"),
        (26, "TLS certificate invalid: unsupported certificate purpose"),
    ],
)
def test_certificate_verify_codes_map_to_short_messages(code: int, message: str) -> None:
    verify_error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify_error.verify_code = code
    verify_error.verify_message = "unsupported certificate purpose"
    error = aiohttp.ClientConnectorCertificateError(None, verify_error)  # type: ignore[arg-type]
    assert describe_failure(error, 5.0) == message


def test_timeout_messages_use_the_short_duration_form() -> None:
    assert describe_failure(TimeoutError(), 0.25) == "timed out after 250ms"
    assert describe_failure(TimeoutError(), 5) == "timed out after 5s"
