"""IPv4 and IPv6: the ``network`` property's ``ip4``/``ip6``/``both`` for http and tcp (and
``both`` for ping, whose ``ip`` pings every address: ``monitors.probes.ping``).

nixcloud.monitoring checks a service over IPv4 and over IPv6. Here ``network`` says which:

* ``ip`` (the default): either family, as the name resolves (the resolver's order, RFC 6724),
  what the types did before this property existed;
* ``ip4``: IPv4 only; ``ip6``: IPv6 only. A name without an address of that family fails with
  ``could not resolve host``; an address literal of the other family is refused when the
  monitor is saved (``check_target_network``) and fails a run the same way (``literal_problem``);
* ``both``: one run checks over IPv4 AND over IPv6, concurrently, within the one deadline.

How ``both`` maps onto results (nixcloud says "one result per family"; the results table holds
ONE result per monitor per slot): a ``both`` run is one result. It is OK or Error only when
both families succeeded, and then carries every output of one family under its usual name
(those of the SLOWER family, so ``respTime`` is the worse of the two and ``respTime < 500``
holds for both) plus per-family copies of the outputs named in ``PER_FAMILY`` with a ``4`` or
``6`` suffix (``respTime4``, ``respTime6``, ``status4``, …): a rule can hold each family to
its own bound (``status4 == 200 && status6 == 200``). When either family fails the run is
Failed and its message names the family (``IPv6: connection refused``; both, ``IPv4: …;
IPv6: …``), so an outage of one family alone is an alert of its own. A Failed run stores no
outputs, so the family that worked is not recorded for that slot: the message is what says
which one failed. (There is no ``ok4``/``ok6`` output: it could only ever be 1 in a stored
result.)

Plain Python, no Django.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from monitors.probes.base import OutputSpec, ProbeFailure, ProbeResult, PropertySpec

NETWORKS = ("ip", "ip4", "ip6", "both")
FAMILY = {"ip": socket.AF_UNSPEC, "ip4": socket.AF_INET, "ip6": socket.AF_INET6}
FAMILY_NAME = {"ip4": "IPv4", "ip6": "IPv6"}
SUFFIX = {"ip4": "4", "ip6": "6"}

NETWORK = PropertySpec(
    "network",
    "Address family to connect over: ip (either, as the name resolves), ip4 (IPv4 only), ip6 "
    "(IPv6 only) or both (IPv4 and IPv6 at once in one run: Failed, naming the family, when "
    "either fails; per-family outputs end in 4 and 6).",
    default="ip",
    choices=NETWORKS,
)


def per_family_outputs(outputs: tuple[OutputSpec, ...], names: tuple[str, ...]) -> tuple:
    """The ``4`` and ``6`` copies of the outputs ``names`` (declared for ``network=both``)."""
    copies = []
    for spec in outputs:
        if spec.name in names:
            for network, suffix in SUFFIX.items():
                copies.append(
                    OutputSpec(
                        f"{spec.name}{suffix}",
                        spec.kind,
                        f"network=both: {spec.name} over {FAMILY_NAME[network]}.",
                        unit=spec.unit,
                    )
                )
    return tuple(copies)


def literal_problem(host: str, network: str) -> str | None:
    """Why the address literal ``host`` cannot be reached over ``network``, or None (a name,
    or a literal of a family ``network`` allows)."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if network == "ip4" and address.version == 6:
        return f"{host} is not an IPv4 address (network=ip4)"
    if network == "ip6" and address.version == 4:
        return f"{host} is not an IPv6 address (network=ip6)"
    if network == "both":
        return f"network=both needs a host name with IPv4 and IPv6 addresses, not {host}"
    return None


def check_target_network(host: str, network: str) -> None:
    """Raise ``ValueError`` when the address literal ``host`` cannot be used with ``network``
    (checked when a monitor is saved)."""
    if (problem := literal_problem(host, network)) is not None:
        raise ValueError(problem)


async def over_both(
    run: Callable[[str], Awaitable[ProbeResult]], per_family: tuple[str, ...]
) -> ProbeResult:
    """``run("ip4")`` and ``run("ip6")`` at once; one result as the module docstring says."""
    results = await asyncio.gather(run("ip4"), run("ip6"), return_exceptions=True)
    by_network = dict(zip(("ip4", "ip6"), results, strict=True))
    failures = [
        f"{FAMILY_NAME[network]}: {outcome}"
        for network, outcome in by_network.items()
        if isinstance(outcome, ProbeFailure)
    ]
    if failures:
        raise ProbeFailure("; ".join(failures))
    for outcome in results:
        if isinstance(outcome, BaseException):
            raise outcome  # not an expected failure: the engine reports it as such
    succeeded: dict[str, ProbeResult] = by_network  # type: ignore[assignment]
    slower = max(succeeded.values(), key=_response_time)
    outputs = dict(slower.outputs)
    for network, result in succeeded.items():
        for name in per_family:
            if name in result.outputs:
                outputs[f"{name}{SUFFIX[network]}"] = result.outputs[name]
    return ProbeResult(value=slower.value, outputs=outputs)


def _response_time(result: ProbeResult) -> float:
    """How long a family took: ``respTime`` (http, tcp), else the value (ping's avgRtt)."""
    value = result.outputs.get("respTime", result.value)
    return float(value) if isinstance(value, int | float) else 0.0
