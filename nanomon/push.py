"""Run a command and report it to a push monitor, like Healthchecks' runitor or nixcloud's
passive-result wrapper: ``python -m nanomon.push URL -- command args…``.

It pings ``URL/start``, runs the command (its output still goes to this terminal), then pings
``URL/<exit code>`` with the tail of the command's output (stdout and stderr, the last
10,000 bytes) as the body, and exits with the command's exit code. A ping that fails is
retried (``--retries``, one second, then two, …); a monitoring server that cannot be reached
never changes the job's own exit code. Nothing here needs Django: the file runs on its own on
any host with Python 3.9 or later (copy it, or ``bin/nanomon-push``).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

TAIL_BYTES = 10_000


def ping(url: str, body: bytes = b"", *, timeout: float, retries: int) -> bool:
    """POST ``body`` to ``url``; True once the server answered 2xx. Never raises."""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(2 ** (attempt - 1), 30))
        request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (http(s): main)
        request.add_header("Content-Type", "text/plain; charset=utf-8")
        request.add_header("User-Agent", "nanomon-push/1")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                if 200 <= response.status < 300:
                    return True
        except urllib.error.HTTPError as error:
            if error.code == 404:  # a wrong or rotated token: retrying will not help
                print(f"nanomon-push: {url}: 404, no such push monitor", file=sys.stderr)
                return False
            print(f"nanomon-push: {url}: HTTP {error.code}", file=sys.stderr)
        except (OSError, ValueError) as error:
            print(f"nanomon-push: {url}: {error}", file=sys.stderr)
    return False


class Tail:
    """The last ``TAIL_BYTES`` of what streams copy through, kept thread-safely."""

    def __init__(self) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._lock = threading.Lock()

    def add(self, chunk: bytes) -> None:
        with self._lock:
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._size - len(self._chunks[0]) >= TAIL_BYTES:
                self._size -= len(self._chunks.popleft())

    def value(self) -> bytes:
        with self._lock:
            return b"".join(self._chunks)[-TAIL_BYTES:]


def _copy(source, sink, tail: Tail) -> None:
    for chunk in iter(lambda: source.read1(65536), b""):
        tail.add(chunk)
        sink.write(chunk)
        sink.flush()


def run(command: list[str], tail: Tail) -> int:
    """Run ``command``, copying its output to ours and into ``tail``; its exit code (128 + n
    when a signal ended it, 127 when it could not start, as a shell says)."""
    try:
        # Running the caller's own command is the point (no shell: its arguments as given).
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603
    except OSError as error:
        tail.add(f"nanomon-push: cannot run {command[0]}: {error.strerror}\n".encode())
        return 127
    copiers = [
        threading.Thread(target=_copy, args=(process.stdout, sys.stdout.buffer, tail)),
        threading.Thread(target=_copy, args=(process.stderr, sys.stderr.buffer, tail)),
    ]
    for copier in copiers:
        copier.start()
    code = process.wait()
    for copier in copiers:
        copier.join()
    return 128 - code if code < 0 else code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nanomon.push",
        description="Run a command and report its start, exit code and output to a push monitor.",
    )
    parser.add_argument("url", help="the monitor's ping URL, https://…/ping/<token>")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per ping (10)")
    parser.add_argument("--retries", type=int, default=3, help="retries per ping (3)")
    parser.usage = "python -m nanomon.push [--timeout S] [--retries N] URL -- command [args…]"
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        parser.error("no command: python -m nanomon.push URL -- command args…")
    split = argv.index("--")
    args, command = parser.parse_args(argv[:split]), argv[split + 1 :]
    if not command:
        parser.error("no command: python -m nanomon.push URL -- command args…")
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"the URL must start with http:// or https://, got {args.url!r}")
    url = args.url.rstrip("/")
    ping(f"{url}/start", timeout=args.timeout, retries=args.retries)
    tail = Tail()
    code = run(command, tail)
    ping(f"{url}/{min(code, 255)}", tail.value(), timeout=args.timeout, retries=args.retries)
    return code


if __name__ == "__main__":
    sys.exit(main())
