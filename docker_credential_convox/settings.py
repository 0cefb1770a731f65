"""The one place that knows every path and every environment variable the helper reads."""

from __future__ import annotations

import sys

from docker_credential_convox import APP, TYPE_CHECKING, minios
from docker_credential_convox.errors import BadRequest

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional

# Environment variables of our own. AWS_* and PYTHON_KEYRING_BACKEND keep their usual meaning.
ENV_CONFIG_DIR = "DOCKER_CREDENTIAL_CONVOX_CONFIG_DIR"
ENV_CACHE_DIR = "DOCKER_CREDENTIAL_CONVOX_CACHE_DIR"
ENV_NO_CACHE = "DOCKER_CREDENTIAL_CONVOX_NO_CACHE"
ENV_DEBUG = "DOCKER_CREDENTIAL_CONVOX_DEBUG"
ENV_KEYRING_BACKEND = "PYTHON_KEYRING_BACKEND"
# docker-credential-ecr-login's settings, honoured as aliases of ours (ours win when both are
# set), so its users can switch helpers without changing their environment. Only the directory
# is shared: ecr-login's own cache.json there is never read or written.
ENV_ECR_LOGIN_CACHE_DIR = "AWS_ECR_CACHE_DIR"
ENV_ECR_LOGIN_DISABLE_CACHE = "AWS_ECR_DISABLE_CACHE"
ENV_KEYRING_TIMEOUT = "DOCKER_CREDENTIAL_CONVOX_KEYRING_TIMEOUT"
# How the direct Secret Service read talks to the daemon: `plain` (jeepney alone, the default)
# or `encrypted` (secretstorage, which imports cryptography); stores/secretservice.py says why.
ENV_SECRET_SERVICE_SESSION = "DOCKER_CREDENTIAL_CONVOX_SECRET_SERVICE_SESSION"  # noqa: S105
SECRET_SERVICE_SESSIONS = ("plain", "encrypted")
# Where stored logins keep their secrets: the OS keyring (the default) or `pass`, in
# docker-credential-pass's layout (stores/pass_store.py); also "secret_store" in config.json.
ENV_SECRET_STORE = "DOCKER_CREDENTIAL_CONVOX_SECRET_STORE"  # noqa: S105 - a variable's name
CONFIG_SECRET_STORE = "secret_store"  # noqa: S105 - a setting's name
KEYRING_STORE = "keyring"
PASS_STORE = "pass"  # noqa: S105 - a store's name
SECRET_STORES = (KEYRING_STORE, PASS_STORE)
ENV_PASSWORD_STORE_DIR = "PASSWORD_STORE_DIR"  # noqa: S105 - pass's own setting, as pass reads it
ENV_AWS_CONNECT_TIMEOUT = "DOCKER_CREDENTIAL_CONVOX_AWS_CONNECT_TIMEOUT"
ENV_AWS_READ_TIMEOUT = "DOCKER_CREDENTIAL_CONVOX_AWS_READ_TIMEOUT"
ENV_AWS_DEADLINE = "DOCKER_CREDENTIAL_CONVOX_AWS_DEADLINE"
# Registries shared by a fleet (shared/): the scope, how long a machine serves a shared value
# from its cache, how long past that it may serve one while Secrets Manager cannot answer, and
# the per-machine cache directory (a runtime directory: it must not outlive the boot).
ENV_SHARED = "DOCKER_CREDENTIAL_CONVOX_SHARED"
ENV_SHARED_MAX_AGE = "DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE"
ENV_SHARED_STALE_FOR = "DOCKER_CREDENTIAL_CONVOX_SHARED_STALE_FOR"
ENV_RUNTIME_DIR = "DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR"
CONFIG_FILE = "config.json"
CONFIG_SHARED = "shared"
CONFIG_SHARED_MAX_AGE = "shared_max_age"
CONFIG_SHARED_STALE_FOR = "shared_stale_for"
DEFAULT_SHARED_MAX_AGE = 300.0
DEFAULT_SHARED_STALE_FOR = 3600.0
# The values of DOCKER_CREDENTIAL_CONVOX_SHARED that turn sharing off, whatever the file says.
SHARED_OFF = frozenset({"", "off"})
MAX_CONFIG_BYTES = 64 * 1024

# Seconds each D-Bus call to the Secret Service may take: gnome-keyring answers in milliseconds
# (a second or so when D-Bus starts it), so past this it is hung, and so would `docker pull` be.
# Waiting for a person at an unlock prompt is not a call and is not bounded.
DEFAULT_KEYRING_TIMEOUT = 5.0
# A write (store, erase) waits longer: gnome-keyring writes its keyring file (two fsyncs) for
# each item, one request after another, so a burst of writes on a slow disk queues in it for
# seconds, busy and not hung. GDBus's default bound, which libsecret (and so the Go helper) waits.
DEFAULT_KEYRING_WRITE_TIMEOUT = 25.0
# botocore's connect and read timeouts for every AWS API call (at most two attempts each).
DEFAULT_AWS_CONNECT_TIMEOUT = 2.0
DEFAULT_AWS_READ_TIMEOUT = 10.0
# The whole of a mint's AWS calls (AssumeRole and GetAuthorizationToken), or of one Secrets
# Manager call, however the endpoint trickles its answer: the read timeout is per read, so an
# endpoint sending a byte a second would hold a call for ever. Below the bound of two attempts
# at a silent endpoint (2 x (2 + 10) s), which the README promises.
DEFAULT_AWS_DEADLINE = 20.0

# AWS variables read by the helper itself. Debian 12's botocore 1.29 predates the per-service
# endpoint variables, so the helper reads them and passes endpoint_url explicitly.
ENV_AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
ENV_AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
ENV_AWS_METADATA_SERVICE_TIMEOUT = "AWS_METADATA_SERVICE_TIMEOUT"
ENV_AWS_METADATA_SERVICE_NUM_ATTEMPTS = "AWS_METADATA_SERVICE_NUM_ATTEMPTS"
# botocore reads only AWS_DEFAULT_REGION; the other AWS SDKs read AWS_REGION first, and so do we.
ENV_AWS_REGION = "AWS_REGION"
ENV_AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
AWS_ENDPOINT_URL_VARIABLES = {
    "ecr": "AWS_ENDPOINT_URL_ECR",
    "ecr-public": "AWS_ENDPOINT_URL_ECR_PUBLIC",
    "sts": "AWS_ENDPOINT_URL_STS",
    "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER",
}
# What names the default chain's source without resolving it: the token cache keys on these, so
# a cached token still hits when the chain's keys rotate (SSO, aws-vault, web identity), yet
# switching profile or configuration files starts a new entry. AWS_ACCESS_KEY_ID counts only for
# long-term keys: aws-vault and SSO exports (with AWS_SESSION_TOKEN) change it every hour.
AWS_DEFAULT_CHAIN_IDENTITY_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_VAULT",
    "AWS_ROLE_ARN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)

_TRUE = frozenset({"1", "true", "yes", "on"})


def _home(environ: Mapping[str, str]) -> Optional[str]:
    """HOME, else the password database: systemd units and Nomad tasks often run without HOME."""
    home = environ.get("HOME")
    if home:
        return home
    try:
        import pwd

        return pwd.getpwuid(minios.getuid()).pw_dir or None
    except (ImportError, KeyError, OSError):
        return None


def _expand_home() -> str:
    """`os.path.expanduser("~")`: keyring's rule where neither HOME nor the password database
    names a home (`os` is not loaded on the hot paths; this one is not hot)."""
    import os

    return os.path.expanduser("~")


def _xdg(environ: Mapping[str, str], variable: str, fallback: str) -> str:
    base = environ.get(variable)
    if base and minios.isabs(base):
        return minios.join(base, APP)
    home = _home(environ)
    if home:
        return minios.join(home, fallback, APP)
    # Neither XDG nor a home directory: a per-user directory that we create 0700.
    # file_writes.ensure_private_dir refuses it if another user created it first.
    return minios.join("/tmp", f"{APP}-{minios.getuid()}", fallback.strip("./"))  # noqa: S108


def _ecr_login_cache_dir(environ: Mapping[str, str]) -> Optional[str]:
    """AWS_ECR_CACHE_DIR with a leading `~` expanded, as ecr-login expands it."""
    value = environ.get(ENV_ECR_LOGIN_CACHE_DIR)
    if not value:
        return None
    if value == "~" or value.startswith("~/"):
        home = _home(environ)
        return home + value[1:] if home else None
    return value


def _cache_enabled(environ: Mapping[str, str]) -> bool:
    """Ours decides when set; else, as in ecr-login, any value of AWS_ECR_DISABLE_CACHE disables."""
    ours = environ.get(ENV_NO_CACHE, "").strip()
    if ours:
        return not is_true(ours)
    return not environ.get(ENV_ECR_LOGIN_DISABLE_CACHE)


def seconds(environ: Mapping[str, str], variable: str, default: float) -> float:
    """A duration in seconds from `variable` (default if unset); one-line error if not one."""
    text = (environ.get(variable) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 86400:  # also refuses nan and inf
        raise BadRequest(f"{variable} must be a number of seconds above 0, not {text!r}")
    return value


def _seconds_value(text: str, origin: str, allow_zero: bool = False) -> float:
    """A duration in seconds from `text` (named by `origin` in the error)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 86400):  # also refuses nan and inf
        above = "0 or more" if allow_zero else "above 0"
        raise BadRequest(
            f"{origin} must be a number of seconds {above} (under 86400), not {text!r}"
        )
    return value


def _runtime_dir(environ: Mapping[str, str]) -> Optional[str]:
    """Where a machine caches shared values: a runtime directory, which does not outlive the
    boot; None when there is none (then nothing shared is cached)."""
    explicit = environ.get(ENV_RUNTIME_DIR)
    if explicit and minios.isabs(explicit):
        return explicit
    xdg = environ.get("XDG_RUNTIME_DIR")
    if xdg and minios.isabs(xdg):
        return minios.join(xdg, APP)
    per_user = f"/run/user/{minios.getuid()}"
    try:
        info = minios.stat(per_user)
    except OSError:
        return None
    return minios.join(per_user, APP) if info.st_uid == minios.getuid() else None


def is_true(value: Optional[str]) -> bool:
    """Whether an environment flag is set to a true-ish value."""
    return (value or "").strip().lower() in _TRUE


class Settings:
    """Paths and switches resolved from the environment once, at start-up."""

    __slots__ = ("_config", "cache_dir", "cache_enabled", "config_dir", "debug", "environ")

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.config_dir = environ.get(ENV_CONFIG_DIR) or _xdg(environ, "XDG_CONFIG_HOME", ".config")
        self.cache_dir = (
            environ.get(ENV_CACHE_DIR)
            or _ecr_login_cache_dir(environ)
            or _xdg(environ, "XDG_CACHE_HOME", ".cache")
        )
        self.cache_enabled = _cache_enabled(environ)
        self.debug = is_true(environ.get(ENV_DEBUG))
        self._config: Optional[dict[str, object]] = None

    @property
    def config_path(self) -> str:
        """The helper's own settings file (config.json: the shared scope, the secret store)."""
        return minios.join(self.config_dir, CONFIG_FILE)

    def _config_file(self) -> dict[str, object]:
        """config.json as a JSON object, {} when there is none; one-line error when malformed."""
        if self._config is None:
            from docker_credential_convox import fileio, minijson

            data = fileio.read_regular(self.config_path, MAX_CONFIG_BYTES)
            try:
                document = minijson.loads(data.decode("utf-8")) if data is not None else {}
            except (UnicodeDecodeError, ValueError, RecursionError):
                document = None
            if data is not None and len(data) > MAX_CONFIG_BYTES:
                document = None
            if not isinstance(document, dict):
                raise BadRequest(
                    f"{self.config_path} is not a JSON object: fix it (for example "
                    f'{{"{CONFIG_SHARED}": "secretsmanager:PREFIX"}}) or remove it'
                )
            self._config = document
        return self._config

    def _config_text(self, name: str) -> Optional[str]:
        value = self._config_file().get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise BadRequest(f"{name} in {self.config_path} must be a string or a number")
        return str(value)

    @property
    def shared_setting(self) -> tuple[Optional[str], str]:
        """The shared scope as set (`secretsmanager:PREFIX`; None: off) and where it was set.

        The environment wins, and set to "" or "off" turns sharing off whatever the file says.
        """
        value = self.environ.get(ENV_SHARED)
        if value is not None:
            value = value.strip()
            return (None if value.lower() in SHARED_OFF else value), ENV_SHARED
        text = self._config_text(CONFIG_SHARED)
        text = text.strip() if text is not None else None
        origin = f"{CONFIG_SHARED} in {self.config_path}"
        return (None if text is None or text.lower() in SHARED_OFF else text), origin

    def _shared_seconds(self, variable: str, key: str, default: float, allow_zero: bool) -> float:
        text = (self.environ.get(variable) or "").strip()
        if text:
            return _seconds_value(text, variable, allow_zero)
        from_file = self._config_text(key)
        if from_file is not None and from_file.strip():
            return _seconds_value(from_file.strip(), f"{key} in {self.config_path}", allow_zero)
        return default

    @property
    def shared_max_age(self) -> float:
        """Seconds a shared value is served from the machine's cache (before jitter)."""
        return self._shared_seconds(
            ENV_SHARED_MAX_AGE, CONFIG_SHARED_MAX_AGE, DEFAULT_SHARED_MAX_AGE, allow_zero=False
        )

    @property
    def shared_stale_for(self) -> float:
        """Seconds past its age a cached shared value may serve while Secrets Manager fails."""
        return self._shared_seconds(
            ENV_SHARED_STALE_FOR, CONFIG_SHARED_STALE_FOR, DEFAULT_SHARED_STALE_FOR, allow_zero=True
        )

    @property
    def runtime_dir(self) -> Optional[str]:
        """The per-machine cache of shared values (never on persistent disk); None: none."""
        return _runtime_dir(self.environ)

    @property
    def index_path(self) -> str:
        """The registry index: server URL, username and source per registry, never a secret."""
        return minios.join(self.config_dir, "registries.json")

    @property
    def token_cache_path(self) -> str:
        """The file that shares minted ECR tokens across processes."""
        return minios.join(self.cache_dir, "tokens.json")

    @property
    def aws_region(self) -> Optional[str]:
        """The region set in the environment: AWS_REGION, else AWS_DEFAULT_REGION; None: the
        AWS profile's, if any (botocore reads that itself)."""
        for variable in (ENV_AWS_REGION, ENV_AWS_DEFAULT_REGION):
            value = (self.environ.get(variable) or "").strip()
            if value:
                return value
        return None

    def aws_endpoint_url(self, service: str) -> Optional[str]:
        """The endpoint override for an AWS service ("ecr", "ecr-public", "sts"), if any."""
        if is_true(self.environ.get(ENV_AWS_IGNORE_CONFIGURED_ENDPOINT_URLS)):
            return None
        variable = AWS_ENDPOINT_URL_VARIABLES.get(service)
        specific = self.environ.get(variable) if variable else None
        return (specific or self.environ.get(ENV_AWS_ENDPOINT_URL) or "").strip() or None

    def aws_default_chain_identity(self) -> dict[str, str]:
        """The environment that selects the AWS default chain's source (never a secret).

        Long-term keys in the environment (an access key ID without a session token) name a
        principal that does not rotate, so switching them must not reuse another's token.
        """
        identity = {
            name: self.environ[name]
            for name in AWS_DEFAULT_CHAIN_IDENTITY_VARIABLES
            if self.environ.get(name)
        }
        key_id = self.environ.get("AWS_ACCESS_KEY_ID")
        if key_id and not self.environ.get("AWS_SESSION_TOKEN"):
            identity["AWS_ACCESS_KEY_ID"] = key_id
        return identity

    @property
    def keyring_pin_path(self) -> str:
        """The keyring backend discovered last time, so later calls skip discovery."""
        return minios.join(self.cache_dir, "keyring-backend")

    @property
    def keyring_config_path(self) -> Optional[str]:
        """keyring's own keyringrc.cfg on Linux (its rule, without importing keyring); None
        elsewhere, where keyring says."""
        if not sys.platform.startswith("linux"):
            return None
        root = self.environ.get("XDG_CONFIG_HOME") or minios.join(
            _home(self.environ) or _expand_home(), ".config"
        )
        return minios.join(root, "python_keyring", "keyringrc.cfg")

    @property
    def keyring_properties_set(self) -> bool:
        """Whether KEYRING_PROPERTY_* variables configure keyring's backend."""
        return any(name.startswith("KEYRING_PROPERTY_") for name in self.environ)

    @property
    def keyring_timeout(self) -> float:
        """Seconds each D-Bus call of a read from the OS keyring's Secret Service may take."""
        return seconds(self.environ, ENV_KEYRING_TIMEOUT, DEFAULT_KEYRING_TIMEOUT)

    @property
    def keyring_write_timeout(self) -> float:
        """Seconds each D-Bus call of a write (a store, an erase) may take: the setting's value
        when it is set, as for reads."""
        return seconds(self.environ, ENV_KEYRING_TIMEOUT, DEFAULT_KEYRING_WRITE_TIMEOUT)

    @property
    def secret_service_session(self) -> str:
        """`plain` or `encrypted`: the session the direct Secret Service read opens."""
        text = (self.environ.get(ENV_SECRET_SERVICE_SESSION) or "").strip().lower()
        if not text:
            return SECRET_SERVICE_SESSIONS[0]
        if text not in SECRET_SERVICE_SESSIONS:
            raise BadRequest(
                f"{ENV_SECRET_SERVICE_SESSION} must be plain or encrypted, not {text!r}"
            )
        return text

    @property
    def secret_store(self) -> str:
        """Where stored logins keep their secrets: `keyring` (the default) or `pass`.

        The environment wins over `secret_store` in config.json; one-line error for another name.
        """
        text = self.environ.get(ENV_SECRET_STORE)
        origin = ENV_SECRET_STORE
        if text is None or not text.strip():
            text = self._config_text(CONFIG_SECRET_STORE)
            origin = f"{CONFIG_SECRET_STORE} in {self.config_path}"
        name = (text or "").strip().lower() or KEYRING_STORE
        if name not in SECRET_STORES:
            raise BadRequest(f"{origin} must be keyring or pass, not {text!r}")
        return name

    @property
    def password_store_dir(self) -> str:
        """The `pass` store: $PASSWORD_STORE_DIR, else ~/.password-store (as pass decides)."""
        explicit = self.environ.get(ENV_PASSWORD_STORE_DIR)
        if explicit:
            return explicit
        return minios.join(_home(self.environ) or ".", ".password-store")

    @property
    def aws_connect_timeout(self) -> float:
        """Seconds botocore may take to connect to an AWS endpoint."""
        return seconds(self.environ, ENV_AWS_CONNECT_TIMEOUT, DEFAULT_AWS_CONNECT_TIMEOUT)

    @property
    def aws_read_timeout(self) -> float:
        """Seconds botocore may wait for an AWS endpoint's answer."""
        return seconds(self.environ, ENV_AWS_READ_TIMEOUT, DEFAULT_AWS_READ_TIMEOUT)

    @property
    def aws_deadline(self) -> float:
        """Seconds a mint's AWS calls, or one Secrets Manager call, may take in all."""
        return seconds(self.environ, ENV_AWS_DEADLINE, DEFAULT_AWS_DEADLINE)

    @property
    def keyring_backend(self) -> Optional[str]:
        """A keyring backend chosen explicitly by the user, as a dotted class path."""
        return self.environ.get(ENV_KEYRING_BACKEND) or None

    @property
    def docker_config_dir(self) -> str:
        """Docker's configuration directory: $DOCKER_CONFIG or ~/.docker."""
        explicit = self.environ.get("DOCKER_CONFIG")
        if explicit:
            return explicit
        return minios.join(_home(self.environ) or ".", ".docker")
