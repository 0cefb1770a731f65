"""Helpers shared by the `registries` test modules: running the commands, a real-world Docker
config.json, and what to look at afterwards."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from typing import Optional

from support import docker_config_path, get_reply, helper_listing, run_helper_in

# A config.json as found in the wild: what docker, Docker Desktop, the compose and buildx
# plugins, a proxy setup and a hand-edited file leave behind. Go escapes <, > and & in strings.
REAL_WORLD_CONFIG = """{
\t"auths": {
\t\t"https://index.docker.io/v1/": {},
\t\t"ghcr.io": {
\t\t\t"auth": "b2N0b2NhdDpnaHBfc2VjcmV0",
\t\t\t"email": "octocat@example.com"
\t\t},
\t\t"quay.io": {
\t\t\t"identitytoken": "quay-refresh-token"
\t\t}
\t},
\t"credsStore": "desktop",
\t"credHelpers": {
\t\t"123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login",
\t\t"gcr.io": "gcloud"
\t},
\t"HttpHeaders": {
\t\t"User-Agent": "Docker-Client/28.2.2 (linux) \\u003cci\\u003e \\u0026 more",
\t\t"X-Meta-Source": "caf\\u00e9 \\/ build"
\t},
\t"proxies": {
\t\t"default": {
\t\t\t"httpProxy": "http://proxy.example.com:3128",
\t\t\t"noProxy": "*.test.example.com,.example.org,127.0.0.0/8"
\t\t}
\t},
\t"plugins": {
\t\t"-x-cli-hints": {"enabled": "true"},
\t\t"compose": {"ratio": 1.50, "limits": [1e3, -0.0, 12345678901234567890]}
\t},
\t"psFormat": "table {{.ID}}\\t{{.Image}}\\t{{.Status}}",
\t"detachKeys": "ctrl-e,e",
\t"currentContext": "desktop-linux",
\t"features": {"buildkit": true, "legacy": false, "nothing": null},
\t"x-unknown-tool": {"nested": [[], {}, ["deep", {"deeper": "\\ud83d\\ude00"}]]}
}
"""


def registries(
    env: Mapping[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`docker-credential-convox registries ARGS...` with `stdin`, output captured."""
    return run_helper_in(env, "registries", *args, stdin=stdin)


def add(
    env: Mapping[str, str], server: str, username: str, password: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """`registries add SERVER --username U --password-stdin` with the password piped in."""
    return registries(
        env, "add", server, "--username", username, "--password-stdin", *extra, stdin=password
    )


def get_credentials(env: Mapping[str, str], server: str) -> Optional[dict[str, str]]:
    """What the helper's `get` answers for `server`, or None for credentials not found."""
    return get_reply(run_helper_in(env, "get", stdin=server))


def read_config(env: Mapping[str, str]) -> dict[str, object]:
    document: dict[str, object] = json.loads(docker_config_path(env).read_text())
    return document


def tokens(text: str) -> str:
    """JSON text without the whitespace between tokens (strings kept exactly)."""
    return re.sub(r'("(?:[^"\\]|\\.)*")|\s+', lambda m: m.group(1) or "", text)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *secrets: str) -> str:
    """Exit 1, nothing on stdout, exactly one error line on stderr (then, for some errors, a
    hint: what to do), no traceback, no secret."""
    assert result.returncode == 1, result
    assert result.stdout == "", result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 or lines[1].startswith("hint: "), result
    assert "Traceback" not in result.stderr
    for secret in secrets:
        assert secret not in result.stdout + result.stderr
    return lines[0]


def assert_nothing_stored(env: Mapping[str, str], server: str) -> None:
    assert get_credentials(env, server) is None
    assert helper_listing(env) == {}
