"""A Secret Service of our own: a private D-Bus session bus with gnome-keyring on it, unlocked.

The keyring password goes to gnome-keyring on stdin (creating or unlocking the `login`
collection); nothing of the user's keyring or session bus is ever reached. The bench points the
default alias at the in-memory `session` collection, so that seeding a thousand items takes
seconds (gnome-keyring rewrites the whole `login` file on every change).

gnome-keyring 42 aborts when a client hangs up before its property Get is answered
(gdbusconnection.c: "invoke_get_property_in_idle_cb: assertion failed: (error != NULL)"), as a
client that gave up on a slow daemon does, and now and then under load with no client at fault
that a test can point to. A user's session bus then starts gnome-keyring again when the next
client asks (D-Bus activation). The system's service file would start it in the bus's HOME and
without the password, answering every later request with "Prompt dismissed" (no `login`
collection; it asks to create one), so BUS_CONFIG never reads the system's service directories.
Two ways instead:
- `restart_on_demand=True` (the test session's Secret Service): the bus's only service file
  starts gnome-keyring as `start` did, in the same HOME and unlocked with the same password (a
  file of its own, 0600), so a client that arrives after an abort is answered as before it;
  `restarts()` counts the starts on demand.
- otherwise (a test's own Secret Service, stopped and hung on purpose): nothing is started on
  demand, the name stays unowned, and `restart_if_dead` starts ours again.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

from standins import StandInError
from standins.environment import scrubbed_environ
from standins.processes import stop_process, wait_until

TOOLS = ("dbus-daemon", "dbus-send", "gnome-keyring-daemon")
DEFAULT_PASSWORD = "standins-keyring-password"
SECRETS_NAME = "org.freedesktop.secrets"
SESSION_COLLECTION = "/org/freedesktop/secrets/collection/session"
KEYRING_STARTUP_SECONDS = 20.0
KEYRING_COMMAND = ("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
# Started by the bus (restart_on_demand): the start `start_keyring` makes, its pid noted first.
ON_DEMAND_SCRIPT = """#!/bin/sh
echo $$ >> {started}
exec env {environment} {command} < {password}
"""
ON_DEMAND_SERVICE = """[D-BUS Service]
Name={name}
Exec=/bin/sh {script}
"""
# The session bus of dbus's session.conf, without <standard_session_servicedirs/>: nothing of the
# system's is started on demand; {service_dirs} is ours for `restart_on_demand`, or nothing.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  {service_dirs}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def missing_tools(tools: Sequence[str] = TOOLS) -> list[str]:
    """The tools of `tools` that are not on PATH."""
    return [tool for tool in tools if shutil.which(tool) is None]


class SecretService:
    """A private D-Bus session bus with gnome-keyring's Secret Service on it, unlocked."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.bus_path = root / "bus"
        self.address = f"unix:path={self.bus_path}"
        self.bus_process: Optional[subprocess.Popen[bytes]] = None
        self.keyring_process: Optional[subprocess.Popen[bytes]] = None
        self.password = DEFAULT_PASSWORD
        self.restart_on_demand = False
        self.started_on_demand = root / "started-on-demand"  # a pid per line
        self.restarts_reported = 0

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs to reach this Secret Service."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def start(
        self, password: str = DEFAULT_PASSWORD, *, restart_on_demand: bool = False
    ) -> SecretService:
        """Start the bus, then gnome-keyring on it; stop both if either fails.

        With `restart_on_demand`, the bus starts gnome-keyring again, unlocked, when a client
        asks after it has exited (the module's docstring says why)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.restart_on_demand = restart_on_demand
        service_dirs = ""
        if restart_on_demand:
            service_dirs = f"<servicedir>{self.write_on_demand_service()}</servicedir>"
        config = self.root / "bus.conf"
        config.write_text(BUS_CONFIG.format(service_dirs=service_dirs))
        try:
            self.bus_process = subprocess.Popen(
                [
                    "dbus-daemon",
                    f"--config-file={config}",
                    f"--address={self.address}",
                    "--nofork",
                    "--nopidfile",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=scrubbed_environ(),
                start_new_session=True,  # a Ctrl-C reaches the owner, which stops it
            )
            wait_until("dbus-daemon", self.bus_path.exists, self.bus_process)
            self.start_keyring(password)
        except BaseException:
            self.stop()
            raise
        return self

    def keyring_environment(self) -> dict[str, str]:
        """Where gnome-keyring keeps `login` and finds the bus: the same for every start."""
        return {
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_RUNTIME_DIR": str(self.root),
            **self.env,
        }

    def write_on_demand_service(self) -> Path:
        """The bus's service directory for `restart_on_demand`: gnome-keyring as
        `start_keyring` starts it, with the password from a file only its owner reads."""
        password_file = self.root / "keyring-password"
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as stream:
            stream.write(self.password)
        script = self.root / "start-keyring-on-demand"
        script.write_text(
            ON_DEMAND_SCRIPT.format(
                started=shlex.quote(str(self.started_on_demand)),
                environment=" ".join(
                    shlex.quote(f"{name}={value}")
                    for name, value in self.keyring_environment().items()
                ),
                command=shlex.join(KEYRING_COMMAND),
                password=shlex.quote(str(password_file)),
            )
        )
        services = self.root / "services"
        services.mkdir()
        (services / f"{SECRETS_NAME}.service").write_text(
            ON_DEMAND_SERVICE.format(name=SECRETS_NAME, script=script)
        )
        return services

    def restarts(self) -> int:
        """How many times the bus has started gnome-keyring on demand (`restart_on_demand`)."""
        try:
            return len(self.started_on_demand.read_text().split())
        except FileNotFoundError:
            return 0

    def unreported_restarts(self) -> int:
        """`restarts()` since the last time this was asked."""
        restarts = self.restarts()
        unreported, self.restarts_reported = restarts - self.restarts_reported, restarts
        return unreported

    def start_keyring(self, password: str) -> None:
        """Start gnome-keyring on the bus with `password` on stdin (creates or unlocks `login`)."""
        self.password = password
        self.keyring_process = subprocess.Popen(
            list(KEYRING_COMMAND),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**scrubbed_environ(), **self.keyring_environment()},
            start_new_session=True,
        )
        assert self.keyring_process.stdin is not None
        self.keyring_process.stdin.write(password.encode())
        self.keyring_process.stdin.close()
        wait_until(
            "gnome-keyring-daemon",
            lambda: self.name_has_owner(SECRETS_NAME),
            self.keyring_process,
            KEYRING_STARTUP_SECONDS,
        )

    def restart_if_dead(self) -> Optional[int]:
        """Start gnome-keyring again, with its password, if it has exited (see the module's
        docstring); the exit status it had, or None if it was running. With
        `restart_on_demand` the bus starts the next one when a client asks: only reported."""
        if self.keyring_process is None or self.keyring_process.poll() is None:
            return None
        status = self.keyring_process.returncode
        if self.restart_on_demand:
            self.keyring_process = None  # reported once; `restarts` counts what the bus started
        else:
            self.start_keyring(self.password)
        return status

    def stop_keyring(self) -> None:
        """Stop gnome-keyring and wait until the bus has forgotten its name."""
        stop_process(self.keyring_process)
        with contextlib.suppress(StandInError):
            wait_until("the Secret Service name", lambda: not self.name_has_owner(SECRETS_NAME))

    def stop(self) -> None:
        """Stop gnome-keyring (and what the bus started on demand), then the bus: exactly the
        processes started here."""
        stop_process(self.keyring_process)
        with contextlib.suppress(FileNotFoundError):
            for pid in self.started_on_demand.read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGTERM)
        stop_process(self.bus_process)

    def name_has_owner(self, name: str) -> bool:
        """Whether a process on this bus owns `name`."""
        result = subprocess.run(
            [
                "dbus-send",
                f"--bus={self.address}",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                f"string:{name}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return "boolean true" in result.stdout

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """A jeepney connection to this bus (secretstorage speaks over it)."""
        from jeepney.io.blocking import open_dbus_connection

        connection = open_dbus_connection(bus=self.address)
        try:
            yield connection
        finally:
            connection.close()

    def use_session_collection(self) -> None:
        """Point the default alias at the in-memory `session` collection."""
        from secretstorage.defines import SS_PATH, SS_PREFIX
        from secretstorage.util import DBusAddressWrapper

        with self.connection() as connection:
            service = DBusAddressWrapper(SS_PATH, SS_PREFIX + "Service", connection)
            service.call("SetAlias", "so", "default", SESSION_COLLECTION)

    def add_items(self, items: Sequence[tuple[str, dict[str, str], str]]) -> None:
        """(label, attributes, secret) items into the default collection, over one connection."""
        if not items:
            return
        import secretstorage

        with self.connection() as connection:
            collection = secretstorage.get_default_collection(connection)
            for label, attributes, secret in items:
                collection.create_item(label, attributes, secret.encode(), replace=False)


@contextlib.contextmanager
def private_secret_service(
    password: str = DEFAULT_PASSWORD, *, restart_on_demand: bool = False
) -> Iterator[SecretService]:
    """A Secret Service in a fresh directory, stopped and removed afterwards."""
    missing = missing_tools()
    if missing:
        raise StandInError(f"{', '.join(missing)} missing: run scripts/install-system-deps.sh")
    # Short, under /tmp: the bus is a Unix socket in here (paths over 107 bytes fail).
    root = Path(tempfile.mkdtemp(prefix="dccx-secrets-"))
    service = SecretService(root)
    try:
        yield service.start(password, restart_on_demand=restart_on_demand)
    finally:
        service.stop()
        shutil.rmtree(root, ignore_errors=True)
