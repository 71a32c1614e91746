"""The keys of the ``ssh`` type (``monitors.probes.ssh``): the host key a monitor expects
(pinned by ``hostKey`` or remembered) and how a server's key is checked against it, and the
private key a monitor logs in with (decrypted once, then cached).

Host key types are asked for in OpenSSH's client order (``HOST_KEY_ALGORITHMS``: ed25519,
ECDSA, RSA with SHA-2; no certificates, no ``ssh-rsa`` with SHA-1), so the key remembered on
first use is the one ``ssh`` would record in ``known_hosts``. A key line (pinned or remembered)
puts its own type first; a fingerprint cannot (it does not say the key's type).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitors.probes.base import ProbeFailure

if TYPE_CHECKING:  # imported on first use: see monitors.probes.ssh
    import asyncssh

KEY_CACHE_SIZE = 64
# OpenSSH's client order (HostKeyAlgorithms, certificates left out).
HOST_KEY_ALGORITHMS = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-256",
)


def parse_private_key(text: str) -> str:
    """A private key as PEM or OpenSSH text; never quoted back (it is a secret)."""
    import asyncssh

    try:
        asyncssh.import_private_key(text)
    except asyncssh.KeyImportError as error:
        if "Passphrase must be specified" not in str(error):  # encrypted: read at run time
            raise ValueError("must be a private key in PEM or OpenSSH format") from None
    return text


@dataclass(frozen=True)
class HostKeyPin:
    """The host key a monitor expects: its fingerprint, and its algorithms when it came as a
    public key line (a fingerprint alone says nothing of the key's type)."""

    fingerprint: str
    algorithms: tuple[str, ...] = ()


_FINGERPRINT_DATA = 43  # unpadded base64 of a SHA-256 digest


def parse_host_key(text: str) -> HostKeyPin:
    """``SHA256:…`` (as ``ssh-keygen -l`` prints it) or an OpenSSH public key line."""
    text = text.strip()
    if text.startswith("SHA256:"):
        data = text.removeprefix("SHA256:").rstrip("=")
        try:
            valid = len(data) == _FINGERPRINT_DATA and len(_b64decode(data)) == 32
        except ValueError:
            valid = False
        if not valid:
            raise ValueError("a fingerprint is SHA256: and 43 base64 characters")
        return HostKeyPin(f"SHA256:{data}")
    import asyncssh

    try:
        return pin_of(asyncssh.import_public_key(text))
    except asyncssh.KeyImportError:
        raise ValueError(
            "must be an OpenSSH public key line (ssh-ed25519 AAAA…) or a SHA256:… fingerprint"
        ) from None


def _b64decode(data: str) -> bytes:
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (ValueError, TypeError):
        raise ValueError("not base64") from None


def host_key_algorithms(pin: HostKeyPin) -> list[str]:
    """What to ask the server for: the pinned key's types first (so a server that has one
    presents it), then the others, so a server without one still shows which key it has."""
    return [*pin.algorithms, *(name for name in HOST_KEY_ALGORITHMS if name not in pin.algorithms)]


def pin_of(key: asyncssh.SSHKey) -> HostKeyPin:
    offered = {algorithm.decode() for algorithm in key.sig_algorithms}
    preferred = tuple(name for name in HOST_KEY_ALGORITHMS if name in offered)
    return HostKeyPin(key.get_fingerprint("sha256"), preferred or tuple(sorted(offered)))


def key_line(key: asyncssh.SSHKey) -> str:
    """``ssh-ed25519 AAAA…``: the key as an OpenSSH line without a comment."""
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


# --- Credentials -------------------------------------------------------------------------------

_keys: OrderedDict[bytes, asyncssh.SSHKey] = OrderedDict()


async def load_private_key(text: str, passphrase: str | None) -> asyncssh.SSHKey:
    """The decrypted key (cached: ``KEY_CACHE_SIZE``; decrypted on a thread the first time)."""
    cache_key = hashlib.sha256(f"{passphrase}\0{text}".encode()).digest()
    if (key := _keys.get(cache_key)) is not None:
        _keys.move_to_end(cache_key)
        return key
    import asyncssh

    try:
        key = await asyncio.to_thread(asyncssh.import_private_key, text, passphrase)
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as error:
        if "Passphrase must be specified" in str(error):
            raise ProbeFailure("privateKey is encrypted: set passphrase") from None
        if passphrase:
            raise ProbeFailure("privateKey could not be read: wrong passphrase?") from None
        raise ProbeFailure("privateKey could not be read") from None
    _keys[cache_key] = key
    while len(_keys) > KEY_CACHE_SIZE:
        _keys.popitem(last=False)
    return key


# --- Checking the server's key -----------------------------------------------------------------


def host_key_check(expected: HostKeyPin | None) -> asyncssh.SSHClient:
    """An asyncssh client that accepts the host key ``expected`` names (any key when None)
    and notes the one the server presented (``presented``)."""
    return _host_key_check_class()(expected)


@functools.cache
def _host_key_check_class() -> type:
    import asyncssh

    class HostKeyCheck(asyncssh.SSHClient):
        def __init__(self, expected: HostKeyPin | None) -> None:
            self.expected = expected
            self.presented: asyncssh.SSHKey | None = None

        def validate_host_public_key(self, host: str, addr: str, port: int, key) -> bool:
            self.presented = key
            expected = self.expected
            return expected is None or key.get_fingerprint("sha256") == expected.fingerprint

    return HostKeyCheck


def host_key_failure(
    presented: asyncssh.SSHKey | None, pin: HostKeyPin, pinned: bool
) -> str | None:
    """The message when the server's key is not the one expected, else None."""
    if presented is None or presented.get_fingerprint("sha256") == pin.fingerprint:
        return None
    heading = "host key does not match hostKey" if pinned else "host key changed"
    return f"{heading}: expected {pin.fingerprint}, got {presented.get_fingerprint('sha256')}"


def remembered_pin(line: str) -> HostKeyPin:
    import asyncssh

    try:
        return pin_of(asyncssh.import_public_key(line))
    except asyncssh.KeyImportError:  # never written by this module: start again
        return HostKeyPin("")
