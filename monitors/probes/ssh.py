"""The ``ssh`` monitor type: log in over SSH (asyncssh), run one check there, log out.

Contract, plain data in and out:

* Target: ``host[:port]`` (port 22 by default), IPv6 as ``[addr]`` or ``[addr]:port``.
* Properties: ``user`` (required), ``password`` and/or ``privateKey`` (PEM or OpenSSH text,
  with ``passphrase`` when it is encrypted): these four are secrets (masked for people who may
  not change the monitor, never quoted in a message). ``hostKey`` pins the server's key,
  ``timeout`` (10s) is ONE deadline for connect, key exchange, login and the check. ``mode``
  says what is checked (``monitors.probes.ssh_modes``):

  - ``command`` (the default): runs ``command``; outputs ``exitCode``, ``stdout``, ``stderr``
    (each cut at 4 KiB, invalid UTF-8 replaced, final line breaks dropped);
  - ``process``: runs ``scanCmd`` (``ps aux``) and counts the lines holding the text
    ``process`` (pmon's check): ``processCount``;
  - ``log``: reads what was appended to the files ``logFiles`` (``*.log``) of ``logDir``
    since the last run and counts the lines ``logPattern`` (RE2, ``lib.regex``) matches:
    ``matchCount``, ``lastMatch``, ``fileCount``, ``bytesRead``.

  Every run outputs ``respTime`` (ms from the connect to the end of the check, also the
  value) and ``hostKeyFingerprint`` (``SHA256:…``, as ``ssh-keygen -l`` prints it).

The server's host key is checked before anything secret is sent (the key exchange comes before
the login):

* ``hostKey`` set (an OpenSSH public key line ``ssh-ed25519 AAAA…`` or a fingerprint
  ``SHA256:…``): any other key fails the run, ``host key does not match hostKey: expected
  SHA256:…, got SHA256:…``. A key line also restricts the key exchange to that key's type.
* Unset: trust on first use. The first successful run remembers the key in the monitor's
  memory (``ProbeType.remembers``); a later run offered another key fails with ``host key
  changed: expected SHA256:…, got SHA256:…`` and keeps the remembered key (a Failed run never
  changes the memory), so it fails until the monitor is recreated, its target changes or
  ``hostKey`` pins the new key. "Test now" runs with an empty memory: it trusts any key.
* Key types are asked for in OpenSSH's order (ed25519, ECDSA, RSA with SHA-2), so the key
  recorded is the one ``ssh`` would record; host certificates and ``ssh-rsa`` (SHA-1) are not
  used (``monitors.probes.ssh_keys``).

Nothing of the worker's own SSH setup is used: no ``~/.ssh/config``, ``known_hosts``, default
keys or agent. Connections honour the probe network policy (``monitors.netpolicy``): the target
is resolved here and only allowed addresses are tried, in resolver order.

At the deadline the run fails with ``timed out after 10s (…)`` naming the step; the remote
command is sent SIGKILL (sshd kills its process group) and the connection closed, so nothing is
left running on either side. Decrypted keys are cached in the worker (an encrypted OpenSSH
key's bcrypt KDF costs about 20 checks' CPU: ``ssh_keys.KEY_CACHE_SIZE``), decrypted on a
thread the first time. asyncssh is imported when a check runs or a key is parsed, not with
the registry (0.2 s and 8 MB in every process otherwise). More in ``docs/ssh.md``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Mapping

from lib.durations import format_seconds
from monitors import netpolicy
from monitors.probes import ssh_modes
from monitors.probes.base import (
    MonitorTemplate,
    OutputSpec,
    ProbeFailure,
    ProbeResult,
    ProbeType,
    PropertySpec,
    describe_error,
    parse_timeout,
)
from monitors.probes.ssh_keys import (
    HostKeyPin,
    host_key_algorithms,
    host_key_check,
    host_key_failure,
    key_line,
    load_private_key,
    parse_host_key,
    parse_private_key,
    remembered_pin,
)
from monitors.probes.ssh_modes import MODES, Session, scrub
from monitors.targets import is_ip_address, split_host_port

DEFAULT_PORT = 22
# asyncssh logs logins at INFO with the user name, a secret here.
logging.getLogger("asyncssh").setLevel(logging.WARNING)


# --- Target and properties ---------------------------------------------------------------------


def split_target(target: str) -> tuple[str, int]:
    """``(host, port)`` of ``host``, ``host:port``, ``[addr]`` or ``[addr]:port``."""
    if target.startswith("[") and target.endswith("]"):
        return split_host_port(f"{target}:{DEFAULT_PORT}")
    if target and ":" not in target:
        return split_host_port(f"{target}:{DEFAULT_PORT}")
    return split_host_port(target)


def check_target(target: str) -> None:
    split_target(target)


def parse_single_line(text: str) -> str:
    if "\n" in text or "\r" in text or "\0" in text:
        raise ValueError("must be one line")
    return text


# --- Connecting --------------------------------------------------------------------------------


async def _open_socket(host: str, port: int) -> socket.socket:
    """A connected socket to the first allowed address of ``host`` that accepts (resolver
    order, as tcp); ``ProbeFailure`` or ``PolicyDenied`` otherwise."""
    policy = netpolicy.current()
    policy.check_name(host)
    loop = asyncio.get_running_loop()
    try:
        if is_ip_address(host):
            flags = socket.AI_NUMERICHOST
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=flags)
        else:
            found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ProbeFailure("could not resolve host") from None
    first_error: OSError | None = None
    for family, kind, proto, _name, address in policy.permitted(host, found, lambda i: i[4][0]):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
            return sock
        except OSError as error:
            sock.close()
            first_error = first_error or error
        except BaseException:  # cancelled at the deadline: never leak the socket
            sock.close()
            raise
    if first_error is None:
        raise ProbeFailure("could not resolve host")
    if isinstance(first_error, ConnectionRefusedError):
        raise ProbeFailure("connection refused")
    raise ProbeFailure(describe_error(first_error))


async def _connect(
    session: Session, host: str, port: int, properties: Mapping[str, object], pin: HostKeyPin
) -> None:
    client_key = None
    if properties.get("privateKey"):
        session.phase = "reading privateKey"
        client_key = await load_private_key(properties["privateKey"], properties["passphrase"])
    session.phase = "connecting"
    sock = await _open_socket(host, port)
    session.phase = "logging in"
    import asyncssh  # here, not at the top: see the module docstring

    check = host_key_check(pin if pin.fingerprint else None)
    try:
        session.conn, _ = await asyncssh.create_connection(
            lambda: check,
            sock=sock,
            config=None,  # never the worker's ~/.ssh/config, keys, agent or known_hosts
            known_hosts=([], [], []),  # every key goes to check.validate_host_public_key
            x509_trusted_certs=None,
            server_host_key_algs=host_key_algorithms(pin),
            username=properties["user"],
            password=properties.get("password") or None,
            client_keys=[client_key] if client_key is not None else None,
            agent_path=None,
            gss_auth=False,
            host_based_auth=False,
            kbdint_auth=bool(properties.get("password")),
            login_timeout=float(properties["timeout"]) + 1,  # the deadline is ours
            keepalive_interval=0,
        )
    except BaseException:
        sock.close()
        raise
    finally:
        session.presented = check.presented


def _auth_failure(properties: Mapping[str, object]) -> str:
    methods = [name for name in ("privateKey", "password") if properties.get(name)]
    return f"authentication failed ({', '.join(methods)})"


# --- The probe ---------------------------------------------------------------------------------


async def probe(
    target: str, properties: Mapping[str, object], memory: Mapping[str, object]
) -> ProbeResult:
    """Log in to ``target`` and run the ``mode``'s check; see the module docstring."""
    host, port = split_target(target)
    timeout = float(properties["timeout"])
    mode = MODES[str(properties["mode"])]
    if problem := mode.missing(properties):
        raise ProbeFailure(problem)
    if not (properties.get("password") or properties.get("privateKey")):
        raise ProbeFailure("no credentials: set password or privateKey")
    import asyncssh

    pinned = properties.get("hostKey")
    remembered = memory.get("hostKey")
    pin = pinned or (remembered_pin(remembered) if isinstance(remembered, str) else HostKeyPin(""))
    loop = asyncio.get_running_loop()
    session = Session(properties, loop.time() + timeout)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            try:
                await _connect(session, host, port, properties, pin)
                session.phase = "running the check"
                outputs, memory_update = await mode.run(session, memory)
                elapsed = round((time.perf_counter() - started) * 1000, 3)
            finally:
                session.close()
            await session.wait_closed()
    except TimeoutError:
        raise ProbeFailure(f"timed out after {format_seconds(timeout)} ({session.phase})") from None
    except netpolicy.PolicyDenied as error:
        raise ProbeFailure(str(error)) from None
    except asyncssh.PermissionDenied:
        raise ProbeFailure(_auth_failure(properties)) from None
    except (
        asyncssh.HostKeyNotVerifiable,
        asyncssh.KeyExchangeFailed,
        asyncssh.ConnectionLost,
    ) as error:
        if pin.fingerprint and (message := host_key_failure(session.presented, pin, bool(pinned))):
            raise ProbeFailure(message) from None
        if isinstance(error, asyncssh.ConnectionLost):
            raise ProbeFailure(f"connection closed by the server ({session.phase})") from None
        raise ProbeFailure(f"key exchange failed: {scrub(error.reason, properties)}") from None
    except asyncssh.DisconnectError as error:
        raise ProbeFailure(f"disconnected: {scrub(error.reason, properties)}") from None
    except ConnectionResetError:
        raise ProbeFailure(f"connection reset by the server ({session.phase})") from None
    except (asyncssh.Error, OSError) as error:
        raise ProbeFailure(scrub(describe_error(error), properties)) from None
    assert session.presented is not None
    outputs = {
        "respTime": elapsed,
        "hostKeyFingerprint": session.presented.get_fingerprint("sha256"),
        **outputs,
    }
    new_memory = {**memory, **memory_update}
    if not pinned:
        new_memory["hostKey"] = key_line(session.presented)
    return ProbeResult(value=elapsed, outputs=outputs, memory=new_memory)


# --- The declaration ---------------------------------------------------------------------------

PROPERTIES = (
    PropertySpec(
        "timeout",
        "One deadline for connecting, logging in and the check, e.g. 10s.",
        default="10s",
        parse=parse_timeout,
    ),
    PropertySpec("mode", "What to check.", default="command", choices=tuple(MODES)),
    PropertySpec(
        "user", "User name to log in as.", parse=parse_single_line, secret=True, required=True
    ),
    PropertySpec("password", "Password to log in with.", secret=True),
    PropertySpec(
        "privateKey",
        "Private key to log in with, PEM or OpenSSH text (-----BEGIN … PRIVATE KEY-----).",
        parse=parse_private_key,
        secret=True,
    ),
    PropertySpec("passphrase", "Passphrase of an encrypted privateKey.", secret=True),
    PropertySpec(
        "hostKey",
        "The server's host key: an OpenSSH public key line (ssh-ed25519 AAAA…) or its SHA256:… "
        "fingerprint. Unset: the first run's key is remembered and any other key fails.",
        parse=parse_host_key,
    ),
    *ssh_modes.PROPERTIES,
)

OUTPUTS = (
    OutputSpec(
        "respTime", "number", "Milliseconds from the connect to the check's end.", unit="ms"
    ),
    OutputSpec("hostKeyFingerprint", "string", "The server's host key, SHA256:… as ssh-keygen -l."),
    *ssh_modes.OUTPUTS,
)

PROBE = ProbeType(
    kind="ssh",
    label="SSH command, process or log",
    short_label="SSH",
    target_help="host or host:port to log in to over SSH (port 22 by default), IPv6 as [addr]",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,
    template=MonitorTemplate(
        title="SSH command, process or log",
        name="Server health",
        target="server.example.net",
        interval="1m",
        rule="exitCode == 0",
        properties={"user": "monitor", "mode": "command", "command": "uptime"},
        rule_examples=(
            "exitCode == 0",
            "processCount > 0",
            "matchCount == 0",
            "stdout == 'active'",
            "respTime < 2000",
        ),
    ),
    target_shape="host, host:port, [IPv6 address] or [IPv6 address]:port",
    remembers=True,
)
