"""`python -m standins`: the stand-ins for a shell script (the demo), one command each.

python -m standins serve DIR [--registry-user NAME]
    Start a Secret Service, a registry and moto_server (ECR tokens 12 h ahead) under DIR,
    write DIR/standins.env (0600: shell assignments of where each listens, and the
    registry's generated password), then wait; SIGTERM or SIGINT stops exactly those.
python -m standins scrubbed-names
    The names of this process's environment variables a hermetic run removes, one a line.
python -m standins oci-layout DIR TAG
    Write an OCI image layout with one tiny image tagged TAG into DIR.
python -m standins registry-password DIR USER
    Rotate the password of the registry `serve` started under DIR to the one on stdin (its
    htpasswd file; the registry rereads it at once, so the old password is refused).
python -m standins kubelet CONFIG BIN_DIR IMAGE --auth-file FILE
    Do what kubelet does before a pull (standins/kubelet.py): run the providers CONFIG names
    from BIN_DIR for IMAGE and write the credentials it would pull with to FILE (0600, an
    auth.json for skopeo; empty when there are none). Prints the provider's answer, without
    any password, and kubelet's log lines.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from standins import StandInError
from standins.environment import scrubbed_environ
from standins.kubelet import Kubelet
from standins.moto_servers import start_moto_server
from standins.registry import build_oci_layout, start_registry, write_htpasswd
from standins.secret_service import SecretService

ENV_FILE = "standins.env"


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Shell assignments, 0600, written whole or not at all (a reader polls for the file)."""
    text = "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items())
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    temporary.replace(path)


def serve(root: Path, registry_user: str) -> int:
    """Start every stand-in under `root`, publish where they are, wait for a signal to stop."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwind through the stack below
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as started:
        # DIR itself: the bus is a Unix socket in there, and socket paths stop at 107 bytes.
        service = SecretService(root)
        started.callback(service.stop)
        service.start(password=secrets.token_urlsafe(16))
        registry = start_registry(root / "registry", registry_user, secrets.token_urlsafe(16))
        started.callback(registry.stop)
        moto = start_moto_server(root / "moto", expiring_tokens=True)
        started.callback(moto.stop)
        write_env_file(
            root / ENV_FILE,
            {
                "DBUS_SESSION_BUS_ADDRESS": service.address,
                "REGISTRY": registry.host,
                "REGISTRY_USER": registry.username,
                "REGISTRY_PASSWORD": registry.password,
                "MOTO_URL": moto.url,
            },
        )
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


def kubelet_pull(config: Path, bin_dir: Path, image: str, auth_file: Path) -> int:
    """What kubelet would pull `image` with, as an auth.json; a summary without secrets."""
    import base64
    import json
    import time

    log: list[str] = []
    kubelet = Kubelet.from_config(config, bin_dir, log=log)
    credentials = kubelet.credentials(image)
    for line in log:
        print(f"kubelet: {line.strip()}")
    registry = image.split("/", 1)[0]
    auths = {}
    if credentials:
        first = credentials[0]  # kubelet tries them in order; the first one pulls here
        token = base64.b64encode(f"{first.username}:{first.password}".encode()).decode()
        auths[registry] = {"auth": token}
        print(f"kubelet: credentials for {registry} (user {first.username}, password not shown)")
    else:
        print(f"kubelet: no credentials for {registry}: pulling anonymously")
    now = time.monotonic()  # the stand-in's clock
    for provider in kubelet.providers:
        for key, entry in provider.cache.items():
            left = entry.expires_at - now
            print(f"kubelet: keeps the answer for {json.loads(key)[0]} about {left:.0f} s")
    descriptor = os.open(auth_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"auths": auths}, file)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:  # noqa: PLR0911 - one per command
    parser = argparse.ArgumentParser(prog="python -m standins", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="start every stand-in under DIR and wait")
    serving.add_argument("directory", type=Path)
    serving.add_argument("--registry-user", default="demo")
    commands.add_parser("scrubbed-names", help="variables a hermetic run removes")
    layout = commands.add_parser("oci-layout", help="write a one-image OCI layout")
    layout.add_argument("directory", type=Path)
    layout.add_argument("tag")
    rotate = commands.add_parser("registry-password", help="new registry password from stdin")
    rotate.add_argument("directory", type=Path)
    rotate.add_argument("username")
    pulling = commands.add_parser("kubelet", help="the credentials kubelet would pull with")
    pulling.add_argument("config", type=Path)
    pulling.add_argument("bin_dir", type=Path)
    pulling.add_argument("image")
    pulling.add_argument("--auth-file", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args.directory, args.registry_user)
        if args.command == "scrubbed-names":
            kept = scrubbed_environ()
            print("\n".join(sorted(name for name in os.environ if name not in kept)))
            return 0
        if args.command == "kubelet":
            return kubelet_pull(args.config, args.bin_dir, args.image, args.auth_file)
        if args.command == "registry-password":
            password = sys.stdin.read()
            if not password:
                print("standins: no password on stdin", file=sys.stderr)
                return 2
            write_htpasswd(args.directory / "registry" / "htpasswd", args.username, password)
            return 0
        build_oci_layout(args.directory, args.tag, b"hello from the standins\n")
        return 0
    except StandInError as exc:
        print(f"standins: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
