"""Where probes, webhooks and "Test now" may connect: the probe network policy.

Three settings (docs/monitor-types.md "Probe network policy"), read from the environment by
``nanomon/settings.py`` and validated there (a bad entry stops the process, naming the variable):

* ``NANOMON_PROBE_DENY``: comma-separated CIDRs (``10.0.0.0/8``), addresses (``192.0.2.7``) and
  host names (``metadata.internal``). Denied, whatever else says.
* ``NANOMON_PROBE_ALLOW``: the same kinds of entries. When set, only what it matches is allowed;
  unset (the default), every address not denied is allowed.
* ``NANOMON_PROBE_ALLOW_LINK_LOCAL``: ``false`` (default) denies link-local addresses, where
  cloud metadata services answer: 169.254.0.0/16 (169.254.169.254), fe80::/10 and
  fd00:ec2::254. Only this setting lifts that rule (an ALLOW entry does not).

Order of the checks, first match wins: a DENY entry; the link-local rule; then, when ALLOW is
set, an address outside it. A host name entry matches that name and every name under it
(``example.net`` matches ``api.example.net``; ``*.example.net`` is the same entry), compared
without case or a final dot; it matches the name a connection was asked for (the URL's host, a
redirect's host, the target's host), while CIDRs and addresses match the addresses connected
to. So a name resolving to a denied address is refused (DNS rebinding cannot dodge a CIDR),
and an allowed name is still refused when it resolves to a denied address. An IPv4-mapped IPv6
address (``::ffff:169.254.169.254``) is checked as its IPv4 address.

The check is made where the connection is made, on the addresses actually used: the http
probe's connector filters what its resolver returned, on every redirect hop; tcp, ping and the
dns ``server`` property filter their own lookups; webhooks check each connection they open
(``alerts.channels.webhook``). Addresses that are refused are skipped; when none is left the
connection fails with ``PolicyDenied``, whose text says why: ``address 169.254.169.254 is
denied by the default link-local rule (NANOMON_PROBE_ALLOW_LINK_LOCAL)``.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from monitors.targets import is_host_name

ALLOW_VARIABLE = "NANOMON_PROBE_ALLOW"
DENY_VARIABLE = "NANOMON_PROBE_DENY"
LINK_LOCAL_VARIABLE = "NANOMON_PROBE_ALLOW_LINK_LOCAL"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

LINK_LOCAL = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS's IPv6 metadata address
)

T = TypeVar("T")


class PolicyDenied(Exception):
    """A connection the policy refuses; the text says which address or host and why.

    Not an ``OSError``: nothing in aiohttp, urllib3 or requests retries it or rewords it.
    """


def _normal_name(name: str) -> str:
    name = name.strip().lower().rstrip(".")
    if name.startswith("["):
        name = name.strip("[]")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return name
    return name


def _address(text: str) -> Address | None:
    """``text`` as an address to check (an IPv4-mapped IPv6 address as its IPv4 one)."""
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class Entries:
    """The parsed entries of one variable: networks and host names."""

    networks: tuple[Network, ...] = ()
    names: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.networks or self.names)

    def has_address(self, address: Address) -> bool:
        return any(address in network for network in self.networks)

    def has_name(self, host: str | None) -> bool:
        if not host or not self.names:
            return False
        host = _normal_name(host)
        return any(host == name or host.endswith("." + name) for name in self.names)


def _network(variable: str, entry: str, text: str) -> Network:
    try:
        return ipaddress.ip_network(text)
    except ValueError:
        pass
    try:
        widened = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(
            f"{variable}: {entry!r} is not a CIDR (10.0.0.0/8), an address or a host name"
        ) from None
    raise ValueError(
        f"{variable}: {entry!r} has bits set past its prefix length: did you mean {widened}?"
    )


def parse_entries(variable: str, items: Iterable[str]) -> Entries:
    """The entries of ``variable``; ``ValueError`` naming it and the first bad entry."""
    networks: list[Network] = []
    names: list[str] = []
    for raw in items:
        entry = raw.strip()
        if not entry:
            continue
        bare = entry.strip("[]") if entry.startswith("[") and "/" not in entry else entry
        if "/" in bare or ":" in bare or all(c.isdigit() or c == "." for c in bare):
            networks.append(_network(variable, entry, bare))
            continue
        name = _normal_name(entry.removeprefix("*.").removeprefix("."))
        if not is_host_name(name):
            raise ValueError(
                f"{variable}: {entry!r} is not a CIDR (10.0.0.0/8), an address or a host name"
            )
        names.append(name)
    return Entries(tuple(networks), tuple(names))


@dataclass(frozen=True)
class NetworkPolicy:
    """The parsed policy (module docstring). ``allow`` empty: everything not denied."""

    allow: Entries = Entries()
    deny: Entries = Entries()
    allow_link_local: bool = False

    def name_refusal(self, host: str | None) -> str | None:
        """Why a connection to the name ``host`` is refused before any lookup, or None.

        An address literal is judged as the address; a name only by the DENY names (the
        ALLOW names and every CIDR wait for the addresses it resolves to).
        """
        if host is None:
            return None
        if _address(host) is not None:
            return self.refusal(host, None)
        if self.deny.has_name(host):
            return f"host {_normal_name(host)} is denied by {DENY_VARIABLE}"
        return None

    def refusal(self, address: str, host: str | None = None) -> str | None:
        """Why connecting to ``address`` (reached as ``host``) is refused, or None."""
        parsed = _address(address)
        shown = address.strip("[]")
        if parsed is None:
            return f"address {shown} is not an IP address"
        if self.deny.has_address(parsed):
            return f"address {shown} is denied by {DENY_VARIABLE}"
        if self.deny.has_name(host):
            return f"host {_normal_name(host or '')} is denied by {DENY_VARIABLE}"
        if not self.allow_link_local and any(parsed in network for network in LINK_LOCAL):
            return (
                f"address {shown} is denied by the default link-local rule ({LINK_LOCAL_VARIABLE})"
            )
        if self.allow and not (self.allow.has_address(parsed) or self.allow.has_name(host)):
            return f"address {shown} is not allowed by {ALLOW_VARIABLE}"
        return None

    def check_name(self, host: str | None) -> None:
        """Raise ``PolicyDenied`` when ``host`` is refused before any lookup."""
        if (reason := self.name_refusal(host)) is not None:
            raise PolicyDenied(reason)

    def check(self, address: str, host: str | None = None) -> None:
        """Raise ``PolicyDenied`` unless ``address`` (reached as ``host``) may be connected to."""
        if (reason := self.refusal(address, host)) is not None:
            raise PolicyDenied(reason)

    def permitted(
        self, host: str | None, candidates: Sequence[T], address_of: Callable[[T], str]
    ) -> list[T]:
        """The ``candidates`` (resolved addresses of ``host``) that may be connected to, in
        order; ``PolicyDenied`` with the first refusal when none may."""
        kept: list[T] = []
        first_reason: str | None = None
        for candidate in candidates:
            reason = self.refusal(address_of(candidate), host)
            if reason is None:
                kept.append(candidate)
            elif first_reason is None:
                first_reason = reason
        if not kept and first_reason is not None:
            raise PolicyDenied(first_reason)
        return kept


@functools.lru_cache(maxsize=16)
def network_policy(
    allow: tuple[str, ...] = (), deny: tuple[str, ...] = (), allow_link_local: bool = False
) -> NetworkPolicy:
    """The policy of these settings' values; ``ValueError`` naming the variable of a bad entry."""
    return NetworkPolicy(
        allow=parse_entries(ALLOW_VARIABLE, allow),
        deny=parse_entries(DENY_VARIABLE, deny),
        allow_link_local=bool(allow_link_local),
    )


def _split(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def policy_from_environ(environ: Mapping[str, str]) -> NetworkPolicy:
    """The policy of the environment (for code that runs without Django settings)."""
    link_local = environ.get(LINK_LOCAL_VARIABLE, "").strip().lower()
    return network_policy(
        _split(environ.get(ALLOW_VARIABLE, "")),
        _split(environ.get(DENY_VARIABLE, "")),
        link_local in {"1", "true", "yes", "on"},
    )


# The policy Django's settings give (monitors.apps installs it at start and again whenever a
# test overrides one of the settings); None: the environment's (code that runs without Django).
_installed: NetworkPolicy | None = None


def install(policy: NetworkPolicy | None) -> None:
    """Put ``policy`` in force for every probe and webhook of this process (None: the
    environment's again). This module stays free of Django: the probes import it."""
    global _installed
    _installed = policy


def current() -> NetworkPolicy:
    """The policy in force: the installed one (from Django's settings), else the
    environment's. Cheap: the parsed policy is cached per distinct value."""
    if _installed is not None:
        return _installed
    return policy_from_environ(os.environ)
