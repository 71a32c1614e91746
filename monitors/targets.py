"""Target syntax shared by the probes and the "what type is this?" helper (from gosrvmon).

Pure functions, no I/O: a target is checked for shape only, never resolved here.

``detect_kind(target)`` turns a bare target into a monitor type, by these rules (first wins):

=====================================  ========  ============================================
target                                 kind      notes
=====================================  ========  ============================================
``http://…`` or ``https://…``          ``http``  the scheme is case-insensitive; a host is
                                                 required. Any other ``scheme://`` is refused.
an IPv4 or IPv6 address                ``ping``  a bare IPv6 address (``::1``, ``2001:db8::1``,
                                                 ``fe80::1%eth0``) is an address, never a port
``[v6-address]:port``                  ``tcp``   brackets are how IPv6 takes a port
``host:port``                          ``tcp``   host is a host name or an IPv4 address
a host name                            ``ping``  e.g. ``db1`` or ``example.net``
=====================================  ========  ============================================

Anything else (empty, blanks anywhere, ``ftp://x``, ``[::1]`` without a port, a bad port, an
unbracketed ``::1:80``) raises ``ValueError`` with a short reason.
"""

from __future__ import annotations

import ipaddress
import re

# One DNS label: letters, digits, hyphens, and underscores (seen in SRV and internal names; Go's
# resolver accepts them too). Not starting or ending with a hyphen.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def is_ip_address(text: str) -> bool:
    """True for an IPv4 or IPv6 address literal (IPv6 may carry a ``%zone``), no brackets."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_host_name(text: str) -> bool:
    """True for a syntactically valid host name (``db1``, ``example.net``, ``example.net.``).

    Internationalised names are accepted through their IDNA (punycode) form. A string made only
    of digits and dots is not a name (it is a malformed IPv4 address).
    """
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    name = text[:-1] if text.endswith(".") else text
    if not name or len(name) > 253:
        return False
    if re.fullmatch(r"[0-9.]+", name):
        return False
    return all(_LABEL.fullmatch(label) for label in name.split("."))


def parse_port(text: str) -> int:
    """A TCP/UDP port number 1–65535 written in decimal digits; ``ValueError`` otherwise."""
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"port must be a number, got {text!r}")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    return port


def split_host_port(target: str) -> tuple[str, int]:
    """Split ``host:port`` or ``[ipv6]:port`` into ``(host, port)``; brackets are removed.

    The host is a host name or an IPv4 address, or an IPv6 address inside brackets.
    Raises ``ValueError`` with a short reason (missing port, bad port, unbracketed IPv6…).
    """
    if not target:
        raise ValueError("empty target")
    if any(character.isspace() for character in target):
        raise ValueError("target must not contain spaces")
    if target.startswith("["):
        address, bracket, rest = target[1:].partition("]")
        if not bracket:
            raise ValueError("missing ']' after the IPv6 address")
        if not rest.startswith(":"):
            raise ValueError(f"missing port: use [{address}]:port")
        if not _is_ipv6_address(address):
            raise ValueError(f"{address!r} is not an IPv6 address")
        return address, parse_port(rest[1:])
    if ":" not in target:
        raise ValueError("missing port: use host:port")
    host, _, port_text = target.rpartition(":")
    if ":" in host:
        raise ValueError("an IPv6 address with a port needs brackets: [addr]:port")
    if not host:
        raise ValueError("missing host before the port")
    if not (is_host_name(host) or is_ip_address(host)):
        raise ValueError(f"{host!r} is not a host name or IPv4 address")
    return host, parse_port(port_text)


def detect_kind(target: str) -> str:
    """The monitor type for a bare target: ``http``, ``tcp`` or ``ping`` (rules above)."""
    if not target:
        raise ValueError("empty target")
    if any(character.isspace() for character in target):
        raise ValueError("target must not contain spaces")
    if scheme := _SCHEME.match(target):
        if scheme.group(1).lower() not in {"http", "https"}:
            raise ValueError(f"unsupported scheme {scheme.group(1)!r}: use http:// or https://")
        if not target[scheme.end() :].split("/", 1)[0]:
            raise ValueError("URL has no host")
        return "http"
    if is_ip_address(target):
        return "ping"
    if target.startswith("[") or ":" in target:
        split_host_port(target)  # raises with the reason when the shape is wrong
        return "tcp"
    if is_host_name(target):
        return "ping"
    raise ValueError(f"{target!r} is not a URL, host:port, host name or IP address")


def _is_ipv6_address(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False
