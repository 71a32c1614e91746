"""A real OpenSSH server on loopback for the ``ssh`` probe's tests: Debian's openssh-server
(``/usr/sbin/sshd``) started on a free port with its own ``sshd_config``, its own host keys
(``ssh-keygen`` into a temporary directory) and a test user with a password and two keys.

Needs root (sshd checks passwords against ``/etc/shadow`` and switches to the user) and the
``openssh-server`` package (``bin/nanomon test`` installs it when it may); ``skip_reason()``
says why not otherwise. The test user ``nanomon-sshtest`` (a system user with ``/bin/sh``) is
created when missing; it gets a fresh random password while a server runs and is locked again
when the last one stops (a file lock keeps two test sessions from changing it under each
other). The system's own sshd is never touched: nothing reads ``/etc/ssh``.

    with SshServer() as server:
        probe(f"127.0.0.1:{server.port}", user=server.user, password=server.password, ...)

``replace_host_keys()`` restarts the server on the same port with new host keys (a changed
host key, as after a reinstall); ``log_dir`` is a directory the user can read, for log mode.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

SSHD = "/usr/sbin/sshd"
USER = "nanomon-sshtest"
HOME = "/var/lib/nanomon-sshtest"
LOCK_FILE = "/run/lock/nanomon-sshtest.lock"
KEY_PASSPHRASE = "correct horse battery staple"

_lock = threading.Lock()
_running = 0
_password: str | None = None
_lock_file: int | None = None


def skip_reason() -> str | None:
    """Why these tests cannot run here, or None."""
    if not os.path.exists(SSHD):
        return f"{SSHD} missing (apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "sshd needs root to check passwords and switch users"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen missing"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(*args: str, stdin: str | None = None) -> None:
    subprocess.run(args, input=stdin, text=True, check=True, capture_output=True)


def _acquire_user() -> str:
    """The test user's password, set for this process (creating the user when missing)."""
    global _running, _password, _lock_file
    with _lock:
        if _running == 0:
            _lock_file = os.open(LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(_lock_file, fcntl.LOCK_EX)
            try:
                pwd.getpwnam(USER)
            except KeyError:
                _run("useradd", "--system", "--create-home", "--home-dir", HOME, "--shell",
                     "/bin/sh", USER)  # fmt: skip
            _password = secrets.token_urlsafe(18)
            _run("chpasswd", stdin=f"{USER}:{_password}\n")
        _running += 1
        assert _password is not None
        return _password


def _release_user() -> None:
    global _running, _lock_file
    with _lock:
        _running -= 1
        if _running == 0:
            _run("usermod", "--lock", USER)
            if _lock_file is not None:
                os.close(_lock_file)  # releases the flock
                _lock_file = None


def _keygen(path: Path, kind: str, passphrase: str = "", *extra: str) -> None:
    _run("ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "", "-f", str(path), *extra)


def fingerprint(public_line: str) -> str:
    """``SHA256:…`` of an OpenSSH public key line, as ``ssh-keygen -lf`` prints it."""
    result = subprocess.run(
        ["ssh-keygen", "-lf", "-"], input=public_line, text=True, check=True, capture_output=True
    )
    return result.stdout.split()[1]


class SshServer:
    """One sshd on 127.0.0.1 (see the module docstring). Attributes once started: ``port``,
    ``user``, ``password``, ``host_key`` / ``ecdsa_host_key`` (OpenSSH public key lines) and
    ``host_fingerprint``, ``private_key`` (ed25519, OpenSSH format, encrypted with
    ``KEY_PASSPHRASE``), ``pem_key`` (RSA, PEM, no passphrase) and ``pem_public_key``,
    ``log_dir``."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="nanomon-sshd-"))
        self.directory.chmod(0o755)  # the user reads log_dir below it
        self.port = free_port()
        self.user = USER
        self.password = ""
        self.log_dir = self.directory / "logs"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> SshServer:
        self.password = _acquire_user()
        try:
            self.log_dir.mkdir(mode=0o755)
            self._client_keys()
            self._host_keys()
            self._write_config()
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()
        shutil.rmtree(self.directory, ignore_errors=True)
        _release_user()

    # --- Keys and configuration -----------------------------------------------------------

    def _client_keys(self) -> None:
        _keygen(self.directory / "client_ed25519", "ed25519", KEY_PASSPHRASE)
        _keygen(self.directory / "client_rsa", "rsa", "", "-b", "2048", "-m", "PEM")
        self.private_key = (self.directory / "client_ed25519").read_text()
        self.pem_key = (self.directory / "client_rsa").read_text()
        self.pem_public_key = self._public_line("client_rsa.pub")
        authorized = "".join(
            (self.directory / name).read_text() for name in ("client_ed25519.pub", "client_rsa.pub")
        )
        (self.directory / "authorized_keys").write_text(authorized)

    def _host_keys(self) -> None:
        for kind in ("ed25519", "ecdsa"):
            path = self.directory / f"host_{kind}"
            path.unlink(missing_ok=True)
            Path(f"{path}.pub").unlink(missing_ok=True)
            _keygen(path, kind)
        self.host_key = self._public_line("host_ed25519.pub")
        self.ecdsa_host_key = self._public_line("host_ecdsa.pub")
        self.host_fingerprint = fingerprint(self.host_key)
        self.ecdsa_fingerprint = fingerprint(self.ecdsa_host_key)

    def _public_line(self, name: str) -> str:
        algorithm, data, *_comment = (self.directory / name).read_text().split()
        return f"{algorithm} {data}"

    def _write_config(self) -> None:
        directory = self.directory
        (directory / "sshd_config").write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            "ListenAddress [::1]\n"
            f"HostKey {directory}/host_ed25519\n"
            f"HostKey {directory}/host_ecdsa\n"
            f"PidFile {directory}/sshd.pid\n"
            f"AuthorizedKeysFile {directory}/authorized_keys\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "PasswordAuthentication yes\n"
            "KbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\n"
            "PermitRootLogin no\n"
            f"AllowUsers {USER}\n"
            "MaxStartups 100\n"
            "MaxSessions 100\n"
            "MaxAuthTries 10\n"
            "PrintMotd no\n"
            "LogLevel VERBOSE\n"
        )

    # --- The process ----------------------------------------------------------------------

    def _start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        log = open(self.directory / "sshd.log", "ab")  # noqa: SIM115 - sshd keeps it
        with log:
            self._process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.directory / "sshd_config")],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log_text()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
            ):
                if sock.recv(64).startswith(b"SSH-2.0-"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not answer on port {self.port}: {self.log_text()[-2000:]}")

    def _stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    @property
    def pid(self) -> int:
        """The listening sshd's process id."""
        assert self._process is not None
        return self._process.pid

    def replace_host_keys(self) -> None:
        """Restart on the same port with newly generated host keys."""
        self._stop()
        self._host_keys()
        self._start()

    def log_text(self) -> str:
        return (self.directory / "sshd.log").read_text(errors="replace")

    def write_log(self, name: str, text: str, *, append: bool = True) -> Path:
        """Write (or append) ``text`` to ``log_dir/name``, readable by the user."""
        path = self.log_dir / name
        with open(path, "a" if append else "w") as file:
            file.write(text)
        path.chmod(0o644)
        return path
