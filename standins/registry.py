"""A private Docker registry on 127.0.0.1: Debian's docker-registry with htpasswd basic auth.

`start_registry` runs it on a free loopback port with its storage in a directory of its own;
`Registry.stop` stops exactly the process it started. `Registry.push_image` puts a tiny image
into it without a Docker daemon: an OCI layout built here in Python, copied by skopeo.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from standins import StandInError
from standins.environment import tool_environ
from standins.processes import (
    basic_auth,
    free_loopback_port,
    http_status,
    stop_process,
)

TOOLS = ("docker-registry", "htpasswd", "skopeo")
STARTUP_TIMEOUT_SECONDS = 20.0
START_ATTEMPTS = 3

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_TYPES = f"{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"

# skopeo reads /etc/containers/policy.json unless told otherwise; keep the push self-contained.
ACCEPT_ANYTHING_POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


class Registry:
    """A running registry: where it listens, who may log in, the process serving it."""

    def __init__(self, host: str, username: str, password: str, workdir: Path) -> None:
        self.host = host
        self.username = username
        self.password = password
        self.workdir = workdir
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.log = workdir / "registry.log"
        self._images = 0

    def __repr__(self) -> str:
        return f"Registry(host={self.host!r}, username={self.username!r})"

    def v2_status(self, username: Optional[str] = None, password: Optional[str] = None) -> int:
        """The HTTP status of GET /v2/, anonymously or with basic auth."""
        request = urllib.request.Request(f"http://{self.host}/v2/")
        if username is not None:
            request.add_header("Authorization", basic_auth(username, password or ""))
        return http_status(request)

    def manifest_status(self, repository: str, tag: str) -> int:
        """HTTP status of HEAD on a manifest, with the registry's credentials."""
        request = urllib.request.Request(
            f"http://{self.host}/v2/{repository}/manifests/{tag}", method="HEAD"
        )
        request.add_header("Authorization", basic_auth(self.username, self.password))
        request.add_header("Accept", MANIFEST_TYPES)
        return http_status(request, timeout=10)

    def push_image(self, repository: str, tag: str) -> str:
        """Push a tiny single-layer image as `repository:tag`; return `HOST/repository:tag`."""
        self._images += 1
        workdir = self.workdir / f"push-{self._images}"
        layout = workdir / "oci"
        build_oci_layout(layout, tag, payload=f"{repository}:{tag}\n".encode())
        policy = write_accept_anything_policy(workdir / "policy.json")
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
            env=tool_environ(workdir),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if completed.returncode != 0:
            raise StandInError(
                f"skopeo copy to {reference} failed (rc {completed.returncode}): "
                f"{completed.stdout}{completed.stderr}"
            )
        return reference

    def wait_ready(self) -> bool:
        """Whether it answers 401 anonymously and 200 with credentials before the timeout."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                anonymous = self.v2_status()
                authorised = self.v2_status(self.username, self.password)
            except OSError:  # not listening yet
                time.sleep(0.05)
                continue
            if anonymous == 401 and authorised == 200:
                return True
            raise StandInError(
                f"registry on {self.host} answered GET /v2/ with {anonymous} anonymously and "
                f"{authorised} with credentials (expected 401 and 200); log: {self.log_text()}"
            )
        return False

    def log_text(self) -> str:
        """What the registry has logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """Stop exactly the process serving this registry."""
        stop_process(self.process)


def write_accept_anything_policy(path: Path) -> Path:
    """A containers policy.json that accepts any image (skopeo needs one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ACCEPT_ANYTHING_POLICY))
    return path


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


def write_htpasswd(path: Path, username: str, password: str) -> None:
    """One bcrypt line for `username`, replacing the file atomically (the registry rereads it
    when it changes, so a new password takes effect without a restart)."""
    # The password reaches htpasswd on stdin (-i), never in argv.
    completed = subprocess.run(
        ["htpasswd", "-Bin", username],
        input=password,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(completed.stdout)
    temporary.replace(path)


def _write_config(workdir: Path, port: int, username: str, password: str) -> Path:
    htpasswd = workdir / "htpasswd"
    write_htpasswd(htpasswd, username, password)
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
        "http": {"addr": f"127.0.0.1:{port}", "secret": "standins-only"},
        "auth": {"htpasswd": {"realm": "standins", "path": str(htpasswd)}},
    }
    path = workdir / "config.yml"
    path.write_text(json.dumps(config, indent=2))
    return path


def start_registry(workdir: Path, username: str, password: str) -> Registry:
    """docker-registry with htpasswd auth on a free 127.0.0.1 port, ready to serve."""
    workdir.mkdir(parents=True, exist_ok=True)
    for _ in range(START_ATTEMPTS):  # another process may take the free port before we bind it
        port = free_loopback_port()
        config = _write_config(workdir, port, username, password)
        registry = Registry(f"127.0.0.1:{port}", username, password, workdir)
        with registry.log.open("wb") as log_file:
            registry.process = subprocess.Popen(
                ["docker-registry", "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=tool_environ(workdir),
                start_new_session=True,
            )
        try:
            if registry.wait_ready():
                return registry
        except BaseException:
            registry.stop()
            raise
        registry.stop()
    raise StandInError(f"docker-registry did not become ready; last log:\n{registry.log_text()}")
