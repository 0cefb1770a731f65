"""Real services on 127.0.0.1 for the client tests: a Docker registry with htpasswd basic auth.

`registry` starts Debian's `docker-registry` once per session on a free loopback port, with its
storage in a temporary directory, and stops exactly the process it started. `Registry.push_image`
puts a tiny image into it without a Docker daemon: an OCI layout built here in Python, copied
by skopeo.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Optional

import pytest

__all__ = ["Registry", "registry", "registry_image"]

REGISTRY_USERNAME = "alice"
IMAGE_REPOSITORY = "convox/hello"
IMAGE_TAG = "v1"
REGISTRY_PASSWORD = "s3cret-Pa55word"
STARTUP_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
START_ATTEMPTS = 3

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

# skopeo reads /etc/containers/policy.json unless told otherwise; keep the push self-contained.
ACCEPT_ANYTHING_POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    # An http_proxy in the environment must never see loopback traffic.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _basic_auth(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class Registry:
    """A running registry: where it listens and who may log in."""

    def __init__(self, host: str, username: str, password: str, workdir: Path) -> None:
        self.host = host
        self.username = username
        self.password = password
        self.workdir = workdir
        self._images = 0

    def __repr__(self) -> str:
        return f"Registry(host={self.host!r}, username={self.username!r})"

    def v2_status(self, username: Optional[str] = None, password: Optional[str] = None) -> int:
        """The HTTP status of GET /v2/, anonymously or with basic auth."""
        request = urllib.request.Request(f"http://{self.host}/v2/")
        if username is not None:
            request.add_header("Authorization", _basic_auth(username, password or ""))
        try:
            with _no_proxy_opener().open(request, timeout=5) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code

    def push_image(self, repository: str, tag: str) -> str:
        """Push a tiny single-layer image as `repository:tag`; return `HOST/repository:tag`."""
        self._images += 1
        workdir = self.workdir / f"push-{self._images}"
        layout = workdir / "oci"
        build_oci_layout(layout, tag, payload=f"{repository}:{tag}\n".encode())
        policy = workdir / "policy.json"
        policy.write_text(json.dumps(ACCEPT_ANYTHING_POLICY))
        reference = f"{self.host}/{repository}:{tag}"
        completed = subprocess.run(
            [
                "skopeo",
                "--policy",
                str(policy),
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                "--dest-creds",
                f"{self.username}:{self.password}",
                f"oci:{layout}:{tag}",
                f"docker://{reference}",
            ],
            env=_isolated_env(workdir),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"skopeo copy to {reference} failed (rc {completed.returncode}): "
                f"{completed.stdout}{completed.stderr}"
            )
        return reference


def _isolated_env(home: Path) -> dict[str, str]:
    """An environment with nothing of the user's: a fresh HOME, no Docker or registry auth."""
    runtime = home / "run"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "TMPDIR": str(home),
    }


def _blob(blobs: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (blobs / digest.split(":", 1)[1]).write_bytes(data)
    return digest, len(data)


def _layer_tar(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(payload)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def build_oci_layout(directory: Path, tag: str, payload: bytes = b"hello\n") -> str:
    """Write an OCI image layout holding one image tagged `tag`; return the manifest digest."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))

    layer = _layer_tar(payload)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    layer_digest, layer_size = _blob(blobs, gzip.compress(layer, mtime=0))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_digest, config_size = _blob(blobs, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": layer_size}],
    }
    manifest_digest, manifest_size = _blob(blobs, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (directory / "index.json").write_text(json.dumps(index))
    return manifest_digest


def _write_config(workdir: Path, port: int) -> Path:
    htpasswd = workdir / "htpasswd"
    completed = subprocess.run(
        ["htpasswd", "-Bbn", REGISTRY_USERNAME, REGISTRY_PASSWORD],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    htpasswd.write_text(completed.stdout)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    # JSON is YAML: no YAML library needed to write the registry's config.
    config: Mapping[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": "convox-tests-only"},
        "auth": {"htpasswd": {"realm": "convox-tests", "path": str(htpasswd)}},
    }
    path = workdir / "config.yml"
    path.write_text(json.dumps(config, indent=2))
    return path


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the one process we started: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def _wait_ready(registry: Registry, process: subprocess.Popen[bytes], log: Path) -> bool:
    """Whether the registry answers 401 anonymously and 200 with credentials before the timeout."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            anonymous = registry.v2_status()
            authorised = registry.v2_status(registry.username, registry.password)
        except OSError:  # not listening yet
            time.sleep(0.05)
            continue
        if anonymous == 401 and authorised == 200:
            return True
        raise RuntimeError(
            f"registry on {registry.host} answered GET /v2/ with {anonymous} anonymously and "
            f"{authorised} with credentials (expected 401 and 200); log: {log.read_text()}"
        )
    return False


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Debian's docker-registry with htpasswd auth on 127.0.0.1, for the whole session."""
    for tool in ("docker-registry", "htpasswd", "skopeo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make test`, which installs it")
    workdir = tmp_path_factory.mktemp("registry")
    log = workdir / "registry.log"
    for _ in range(START_ATTEMPTS):  # another process may take the free port before we bind it
        port = free_loopback_port()
        config = _write_config(workdir, port)
        running = Registry(f"127.0.0.1:{port}", REGISTRY_USERNAME, REGISTRY_PASSWORD, workdir)
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                ["docker-registry", "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=_isolated_env(workdir),
            )
        try:
            if _wait_ready(running, process, log):
                yield running
                return
        finally:
            _stop(process)
    pytest.fail(f"docker-registry did not become ready; last log:\n{log.read_text()}")


@pytest.fixture(scope="session")
def registry_image(registry: Registry) -> str:
    """`HOST/convox/hello:v1`, pushed once per session."""
    return registry.push_image(IMAGE_REPOSITORY, IMAGE_TAG)
