"""How a running NanoMon's web server answers while "Test now" requests wait on slow targets.

    python -m bench.test_now --url http://127.0.0.1:8000 --token KEY [--token KEY2 …]
        [--tests 3] [--timeout 25s] [--watch 33]

Starts a local HTTP server whose one page never answers, sends ``--tests`` concurrent
``POST /api/monitors/test`` for it (an http check with ``--timeout``; the tests are spread
over the tokens given, round robin) and meanwhile probes ``/api/health`` once a second with a
3 s client timeout, as docker-compose's health check does, for ``--watch`` seconds. Prints how
many probes failed (an error status or no answer within 3 s), their latency, and what each
test answered. Needs nothing but the standard library and a server to point it at
(issue 19 item 5: before, 3 slow tests of one editor made every probe fail for 33 s).
"""

from __future__ import annotations

import argparse
import http.server
import json
import socketserver
import threading
import time
import urllib.error
import urllib.request

from lib.durations import parse_duration


class _NeverAnswers(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(3600)

    def log_message(self, *args: object) -> None:
        pass


def _request(url: str, *, token: str = "", body: object = None, timeout: float):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if token:
        request.add_header("Authorization", f"Token {token}")
    if data:
        request.add_header("Content-Type", "application/json")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    except OSError as error:  # no answer in time, connection refused or reset
        status, text = None, f"{type(error).__name__}: {error}"
    return status, text, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the web server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", action="append", required=True, help="an editor's API token")
    parser.add_argument("--tests", type=int, default=3)
    parser.add_argument("--timeout", default="25s", help="the checks' own timeout")
    parser.add_argument("--watch", type=float, default=33.0, help="seconds of health probes")
    arguments = parser.parse_args()
    base = arguments.url.rstrip("/")
    parse_duration(arguments.timeout)  # a bad duration stops here, not in the server

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    target = Server(("127.0.0.1", 0), _NeverAnswers)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    body = {
        "target": f"http://127.0.0.1:{target.server_address[1]}/",
        "properties": {"timeout": arguments.timeout},
    }
    answers: list[tuple] = [()] * arguments.tests

    def test_now(index: int) -> None:
        token = arguments.token[index % len(arguments.token)]
        answers[index] = _request(f"{base}/api/monitors/test", token=token, body=body, timeout=120)

    tests = [threading.Thread(target=test_now, args=(n,)) for n in range(arguments.tests)]
    for thread in tests:
        thread.start()
    time.sleep(0.5)  # the tests are in
    probes = []
    end = time.monotonic() + arguments.watch
    while time.monotonic() < end:
        started = time.monotonic()
        probes.append(_request(f"{base}/api/health", timeout=3))
        time.sleep(max(0.0, 1 - (time.monotonic() - started)))
    for thread in tests:
        thread.join()
    target.shutdown()

    failed = [probe for probe in probes if probe[0] != 200]
    times = sorted(probe[2] for probe in probes)
    print(
        f"/api/health while {arguments.tests} slow tests ran: {len(failed)} of {len(probes)} "
        f"probes failed over {arguments.watch:g}s; latency median {times[len(times) // 2]:.3f}s, "
        f"max {times[-1]:.3f}s"
    )
    if failed:
        print(f"  first failure: {failed[0][0]} {failed[0][1][:200]}")
    for index, (status, text, seconds) in enumerate(answers):
        detail = text[:160].replace("\n", " ")
        print(f"  test {index + 1}: {status} after {seconds:.2f}s: {detail}")


if __name__ == "__main__":
    main()
