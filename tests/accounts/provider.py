"""A real OpenID provider for the end-to-end tests: panva's ``oidc-provider`` (npm registry),
run with the machine's Node.js from ``tests/accounts/provider/`` (``server.mjs``).

``bin/nanomon test`` installs it (``npm ci``); a test run installs it too when it is missing.
Without Node.js the end-to-end tests are skipped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

FOLDER = Path(__file__).resolve().parent / "provider"


@dataclass
class RealProvider:
    issuer: str

    def url(self, path: str) -> str:
        return f"{self.issuer}{path}"

    @property
    def discovery_url(self) -> str:
        return self.url("/.well-known/openid-configuration")

    def client_credentials_token(
        self, client_id: str, secret: str, *, resource: str, scope: str
    ) -> str:
        response = requests.post(
            self.url("/token"),
            data={"grant_type": "client_credentials", "resource": resource, "scope": scope},
            auth=(client_id, secret),
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]


def installed() -> bool:
    return (FOLDER / "node_modules" / "oidc-provider" / "package.json").is_file()


def install() -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot install the test OpenID provider")
    subprocess.run(
        [npm, "ci", "--prefix", str(FOLDER), "--no-audit", "--no-fund", "--loglevel", "error"],
        check=True,
        timeout=300,
    )


@contextmanager
def running(config: dict, log_path: Path) -> Iterator[RealProvider]:
    """The provider on 127.0.0.1 (a free port) while the block runs."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: no real OpenID provider for this test")
    if not installed():
        install()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [node, "server.mjs"],
            cwd=FOLDER,
            env={**os.environ, "NANOMON_TEST_OIDC": json.dumps(config)},
            stdout=subprocess.PIPE,
            stderr=log,
        )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else b""
        if not line:
            raise RuntimeError(f"the test OpenID provider did not start: {log_path.read_text()}")
        yield RealProvider(issuer=json.loads(line)["issuer"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def pkce_pair() -> tuple[str, str]:
    """``(verifier, S256 challenge)``."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorization_url(provider: RealProvider, **params: str) -> str:
    return f"{provider.url('/auth')}?{urlencode(params)}"
