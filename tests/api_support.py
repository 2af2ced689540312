"""Helpers for the API tests: register a site on /developers, buy a token, call the API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jwt
import requests

from testkit.sns import Client, SnsServer

JSON = {"Accept": "application/json"}
ROOT = Path(__file__).resolve().parent.parent


def register_site(client: Client, host: str = "example.com", tier: str = "free") -> dict:
    """Register a site as the client's user through the /developers form (fetch style)."""
    response = client.post("/developers/domain", {"host": host, "type": tier}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]


def token_for(server: SnsServer, secret: str, version: str = "v2") -> str:
    response = requests.post(
        f"{server.url}/{version}/token", json={"clientSecret": secret}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


def call(server: SnsServer, path: str, token: str | None = None, **kwargs) -> requests.Response:
    """A GET (or ``method=``) on the API with the token sent bare, as NodeBird clients do."""
    method = kwargs.pop("method", "GET")
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers.setdefault("Authorization", token)
    timeout = kwargs.pop("timeout", 30)
    return requests.request(method, server.url + path, headers=headers, timeout=timeout, **kwargs)


def jwt_key(server: SnsServer) -> str:
    """The server's JWT secret, generated once into its data dir."""
    return json.loads((server.data_dir / "secrets.json").read_text())["jwt_secret"]


def forged(server: SnsServer, claims: dict, *, key: str | None = None, alg="HS256") -> str:
    """A token with these claims, signed with the server's key unless told otherwise."""
    if alg == "none":
        return jwt.encode(claims, None, algorithm="none")
    return jwt.encode(claims, key or jwt_key(server), algorithm=alg)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def good_claims(token: str, **changes) -> dict:
    """A real token's claims, with some changed (and None meaning "left out")."""
    claims = {**claims_of(token), **changes}
    return {k: v for k, v in claims.items() if v is not None}


def now() -> int:
    return int(time.time())


@contextmanager
def demo_site(sns_url: str, secret: str, port: int) -> Iterator[str]:
    """``python -m sns.client demo`` on a loopback port, stopped by its own handle."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sns.client",
            "demo",
            "--sns",
            sns_url,
            f"--secret={secret}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        yield json.loads(first_line)["demo"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
