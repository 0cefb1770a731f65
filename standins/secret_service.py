"""A Secret Service of our own: a private D-Bus session bus with gnome-keyring on it, unlocked.

The keyring password goes to gnome-keyring on stdin (creating or unlocking the `login`
collection); nothing of the user's keyring or session bus is ever reached. The bench points the
default alias at the in-memory `session` collection, so that seeding a thousand items takes
seconds (gnome-keyring rewrites the whole `login` file on every change).

The bus starts no service on demand (BUS_CONFIG has no service directories). gnome-keyring 42
aborts when a client hangs up before its property Get is answered (gdbusconnection.c:
"invoke_get_property_in_idle_cb: assertion failed: (error != NULL)"), as a client that gave
up on a slow daemon does; a session bus would then start another gnome-keyring from
/usr/share/dbus-1/services, in the bus's HOME and without the password, which answers every
later request with "Prompt dismissed" (it has no `login` collection and asks to create one).
Here the name stays unowned instead, and `restart_if_dead` starts ours again.
"""

from __future__ import annotations

import contextlib
import shutil
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
# The session bus of dbus's session.conf, without <standard_session_servicedirs/>: no activation.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
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

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs to reach this Secret Service."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def start(self, password: str = DEFAULT_PASSWORD) -> SecretService:
        """Start the bus, then gnome-keyring on it; stop both if either fails."""
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.root / "bus.conf"
        config.write_text(BUS_CONFIG)
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

    def start_keyring(self, password: str) -> None:
        """Start gnome-keyring on the bus with `password` on stdin (creates or unlocks `login`)."""
        self.password = password
        env = {
            **scrubbed_environ(),
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_RUNTIME_DIR": str(self.root),
            **self.env,
        }
        self.keyring_process = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
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
        docstring); the exit status it had, or None if it was running."""
        if self.keyring_process is None or self.keyring_process.poll() is None:
            return None
        status = self.keyring_process.returncode
        self.start_keyring(self.password)
        return status

    def stop_keyring(self) -> None:
        """Stop gnome-keyring and wait until the bus has forgotten its name."""
        stop_process(self.keyring_process)
        with contextlib.suppress(StandInError):
            wait_until("the Secret Service name", lambda: not self.name_has_owner(SECRETS_NAME))

    def stop(self) -> None:
        """Stop gnome-keyring, then the bus: exactly the processes started here."""
        stop_process(self.keyring_process)
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
def private_secret_service(password: str = DEFAULT_PASSWORD) -> Iterator[SecretService]:
    """A Secret Service in a fresh directory, stopped and removed afterwards."""
    missing = missing_tools()
    if missing:
        raise StandInError(f"{', '.join(missing)} missing: run scripts/install-system-deps.sh")
    # Short, under /tmp: the bus is a Unix socket in here (paths over 107 bytes fail).
    root = Path(tempfile.mkdtemp(prefix="dccx-secrets-"))
    service = SecretService(root)
    try:
        yield service.start(password)
    finally:
        service.stop()
        shutil.rmtree(root, ignore_errors=True)
