"""`registries doctor SERVER`: why a pull of SERVER gets no credentials, one check per line.

The checks follow a request's path: which helper Docker runs for the server and why
(`doctor_docker`, by Docker's rules in `docker_lookup`), what the helper holds for it (canonical
key, kind, credential source and where its secret lives), whether the keyring answers, and for
ECR the cached token, a fresh mint and the clock against AWS's (`doctor_ecr`). With a shared
scope configured (issue 12), which scope, and whether the registry's shared entry reads now (one
GetSecretValue past the machine's cache; the value is only parsed, never shown); a shared entry
answers when no local one does.

Read-only: nothing here writes Docker's config, the registry index, the keyring or the token
cache (the token minted to test the source is dropped). Secrets are read only to see that they
are there, or to mint, and never reach a message: findings carry usernames, access key IDs,
paths and times only. Each check is a `Finding`; `doctor_report` renders them.
"""

from __future__ import annotations

import argparse
import shutil
import time
from typing import TYPE_CHECKING, Callable, Optional

from docker_credential_convox import sources
from docker_credential_convox.errors import AwsError, HelperError, StoreUnavailable
from docker_credential_convox.filecache import describe_time
from docker_credential_convox.helper import NOTHING, SHARED
from docker_credential_convox.registries import containers, docker_config
from docker_credential_convox.registries.context import Context, config_path, server_from
from docker_credential_convox.registries.doctor_docker import check_docker
from docker_credential_convox.registries.doctor_ecr import check_clock, describe_cached
from docker_credential_convox.registries.doctor_report import (
    NAME,
    Finding,
    exit_code,
    note,
    ok,
    problem,
    render_report,
    run_command,
)
from docker_credential_convox.server_keys import (
    ECR,
    ECR_PUBLIC,
    SERVICE_ECR,
    Server,
    token_api,
)
from docker_credential_convox.settings import ENV_NO_CACHE, ENV_SHARED, Settings
from docker_credential_convox.shared.document import SharedEntry, parse_optional
from docker_credential_convox.sources import StoredLogin
from docker_credential_convox.sources.ecr import AwsSource, EcrKeys, EcrLoginToken

if TYPE_CHECKING:
    from docker_credential_convox.helper import Helper, Route
    from docker_credential_convox.registry_index import Entry
    from docker_credential_convox.stores import SecretStore


# --- the helper's side -------------------------------------------------------------------------


class Doctor:
    """Gathers the findings for one server; every source of facts is injectable."""

    def __init__(
        self,
        settings: Settings,
        helper: Helper,
        *,
        load_config: Optional[Callable[[], docker_config.DockerConfig]] = None,
        which: Optional[Callable[[str], Optional[str]]] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.helper = helper  # its route, its entries, the secret store and the ECR backend
        self.clock = clock
        self.load_config = load_config or (
            lambda: docker_config.DockerConfig.load(settings.docker_config_dir)
        )
        self.which = which or (
            lambda name: shutil.which(name, path=settings.environ.get("PATH") or None)
        )
        self._backend: Optional[str] = None

    def examine(self, typed: str, server: Server) -> list[Finding]:
        """Every finding for `server`, as typed by the user, in the order a request meets them."""
        findings = [self._docker(typed, server)]
        route: Optional[Route] = None
        try:
            # The very route `get` follows: doctor explains it, never re-derives it.
            route = self.helper.route(server)
            entries = self.helper.entries()
            entry = entries.get(route.server.key) if route.entry_key is not None else None
        except HelperError as exc:
            fix = (exc.hint or "").removeprefix("hint: ") or "repair or move the file"
            failed = problem("credentials", exc.message, fix)
        shared_finding = self._shared(server, route)
        if shared_finding is not None:  # no line on a machine that shares nothing
            findings.append(shared_finding)
        if route is None:
            return [*findings, failed]
        if route.kind == SHARED and route.shared is not None:
            return findings + self._from_shared(route.server, route.shared, route)
        if route.via is not None:
            return findings + self._alias(typed, route, entry)
        if route.kind == NOTHING and route.entry_key is not None:
            return [*findings, self._unanswered(typed, route)]
        if route.server.kind in (ECR, ECR_PUBLIC):
            return findings + self._ecr(typed, route.server, entry)
        # The route is told only when another key's entry answers, or none does.
        told = route if route.entry_key != server.key else None
        return findings + self._static(typed, route.server, entry, told)

    def heading(self, typed: str, server: Server) -> str:
        """What the server is: its canonical key and kind."""
        heading = f"{typed}: key {server.key}, kind {server.kind}"
        if server.kind == ECR and server.ecr is not None:
            return f"{heading} (Amazon ECR, account {server.ecr.account}, {server.ecr.region})"
        if server.kind == ECR_PUBLIC:
            return f"{heading} (Amazon ECR Public)"
        return heading

    def _docker(self, typed: str, server: Server) -> Finding:
        try:
            config = self.load_config()
        except HelperError as exc:
            return problem("docker", exc.message, "repair the file; docker cannot read it either")
        return check_docker(config, typed, server, self.settings.environ, self.which)

    # -- the shared scope -------------------------------------------------------------------

    def _shared(self, server: Server, route: Optional[Route]) -> Optional[Finding]:
        """Which scope is configured, and the shared entry `route` answers from (else the
        registry's) read now, not cached; no finding without a scope."""
        try:
            shared = self.helper.shared
        except HelperError as exc:
            return problem("shared", exc.message, f"correct the setting, or set {ENV_SHARED}=off")
        if shared is None:
            return None
        key = server.registry
        if route is not None and route.kind == SHARED and route.entry_key is not None:
            key = route.entry_key
        scope = shared.scope.text
        try:
            name = shared.scope.name_of(key)
            found = parse_optional(key, name, shared.api.read(name))
        except HelperError as exc:
            fix = (exc.hint or "").removeprefix("hint: ") or "see the cause"
            text = f"{scope}: cannot read the entry for {key}: {exc.message}"
            return problem("shared", text, fix)
        if found is None:
            return note("shared", f"{scope} is configured and holds no entry for {key} ({name})")
        wins = ""
        if route is not None and route.kind != SHARED and route.entry_key is not None:
            wins = f"; the local entry {route.entry_key} wins over it"
        return ok("shared", f"{scope} holds {name} for {key}, readable now{wins}")

    def _from_shared(self, server: Server, shared: SharedEntry, route: Route) -> list[Finding]:
        """What the shared entry answers with (for ECR, a mint with it now)."""
        source = sources.from_entry(server.kind, shared.entry)
        assert source is not None  # a shared entry records a source
        found = ok(
            "credentials",
            f"{source.describe().replace('stored for', 'shared for')} ({route.why}; "
            "no keyring needed)",
        )
        if not isinstance(source, AwsSource):
            return [found]
        return [
            found,
            self._cached_token(server, source),
            *self._mint_now(server, source, shared.secret),
        ]

    # -- the keyring ------------------------------------------------------------------------

    @property
    def store(self) -> SecretStore:
        return self.helper.secrets.store

    def _backend_name(self) -> str:
        if self._backend is None:
            self._backend = self.store.describe()
        return self._backend

    def _with_secret(
        self, stored: str, key: str, username: str, what: str, *, fix: str, where: str = ""
    ) -> tuple[list[Finding], Optional[str]]:
        """The credentials and keyring findings of a login whose secret (`what`) is filed under
        (key, username) in `where` (default: its location), and the secret. A secret the
        keyring answers without is the credentials' problem, never an `ok` above it; an
        unanswered read, the keyring's."""
        where = where or self.store.location(key)
        found = ok("credentials", f"{stored}; the {what} is in {where}")
        try:
            secret = self.store.get(key, username)
            backend = self._backend_name()
        except StoreUnavailable as exc:
            return [found, _keyring_problem(exc)], None
        if not secret:
            missing = problem(
                "credentials",
                f"{stored}, but {where} holds no {what} for {username}, so `get` answers "
                "`credentials not found in native keychain`",
                fix,
            )
            return [missing, ok("keyring", f"{backend} answers")], None
        holds = ok("keyring", f"{backend} answers and holds the {what} for {username}")
        return [found, holds], secret

    def _probe_keyring(self, key: str, needed_by: str = "") -> Finding:
        """Whether the keyring answers, for a registry that keeps no secret in it: a problem if
        `needed_by` (the command that would store one) needs it, else a note."""
        try:
            self.store.find_username(key)
            backend = self._backend_name()
        except StoreUnavailable as exc:
            if needed_by:
                return _keyring_problem(exc, f"{needed_by} needs it to keep the secret for {key}")
            return note("keyring", f"not needed for {key}, and it does not answer: {exc.message}")
        if needed_by:
            return ok("keyring", f"{backend} answers; {needed_by} keeps the secret for {key} there")
        return ok("keyring", f"{backend} answers (no secret is needed for {key})")

    # -- ordinary registries ----------------------------------------------------------------

    def _static(
        self, typed: str, server: Server, entry: Optional[Entry], route: Optional[Route] = None
    ) -> list[Finding]:
        add = run_command("registries", "add", typed)
        if entry is None:
            why = route.why if route is not None else f"no entry for {server.key}"
            return [
                problem(
                    "credentials",
                    f"{NAME} holds nothing for {server.key} ({why}), so `get` answers "
                    "`credentials not found in native keychain` and docker says "
                    "`no basic auth credentials`",
                    add,
                ),
                self._probe_keyring(server.key, needed_by=f"`registries add {typed}`"),
            ]
        answers = f"; {route.why}" if route is not None else ""
        stored = f"username {entry.username} (stored as {entry.server_url}{answers})"
        findings, _ = self._with_secret(stored, server.key, entry.username, "secret", fix=add)
        return findings

    def _unanswered(self, typed: str, route: Route) -> Finding:
        """An entry that answers nothing (an alias naming no ECR registry)."""
        return problem(
            "credentials",
            f"{route.why}, so `get` answers `credentials not found in native keychain`",
            run_command("registries", "add", typed, "--ecr-registry", "ECR_HOST"),
        )

    def _alias(self, typed: str, route: Route, target_entry: Optional[Entry]) -> list[Finding]:
        target = route.server
        found = ok(
            "credentials",
            f"another name for the ECR registry {target.key} ({route.why}): tokens come from "
            "its source",
        )
        rest = self._ecr(target.key, target, target_entry)
        for finding in rest:
            if finding.topic == "credentials":
                finding.text = f"{target.key} uses {finding.text}"
        return [found, *rest]

    # -- Amazon ECR -------------------------------------------------------------------------

    def _ecr(self, typed: str, server: Server, entry: Optional[Entry]) -> list[Finding]:
        recorded = sources.from_entry(server.kind, entry)
        if isinstance(recorded, StoredLogin):
            return self._static(typed, server, entry)
        findings: list[Finding] = []
        add = run_command("registries", "add", typed)
        if isinstance(recorded, EcrLoginToken):
            if recorded.is_current(self.clock()):
                stored = (
                    "a token stored by `docker login -u AWS` at "
                    f"{describe_time(recorded.stored_at)}, returned until "
                    f"{describe_time(recorded.expires_at)}"
                )
                username = recorded.secret_username or ""
                findings, _ = self._with_secret(
                    stored, server.key, username, "token", fix=add, where=self.store.name
                )
                return findings
            findings.append(
                problem(
                    "credentials",
                    f"the token stored by `docker login -u AWS` expired at "
                    f"{describe_time(recorded.expires_at)}; the AWS default credential chain "
                    "is used now",
                    add + " with lasting AWS credentials",
                )
            )
            entry = None
        source = sources.from_entry(server.kind, entry)
        assert isinstance(source, AwsSource)  # an ECR registry's: recorded, or the default chain
        secret: Optional[str] = None
        if isinstance(source, EcrKeys):
            checked, secret = self._with_secret(
                source.describe(),
                server.key,
                source.username,
                "secret access key",
                fix=add,
                where=self.store.name,
            )
            findings.extend(checked)
        else:
            unrecorded = "" if entry is not None else f" (nothing is recorded for {server.key})"
            if not findings:
                findings.append(ok("credentials", f"{source.describe()}{unrecorded}; no secret"))
            findings.append(self._probe_keyring(server.key))
        findings.append(self._cached_token(server, source))
        if isinstance(source, EcrKeys) and secret is None:
            return findings  # the findings above already say what is wrong
        findings.extend(self._mint_now(server, source, secret))
        return findings

    def _cached_token(self, server: Server, source: AwsSource) -> Finding:
        if not self.settings.cache_enabled:
            return note("cached token", f"none: {ENV_NO_CACHE} is set, so every get mints")
        token = self.helper.ecr.cached(server, source)
        if token is None:
            return ok("cached token", "none for this source yet; the next get mints one")
        return describe_cached(token, self.clock())

    def _mint_now(self, server: Server, source: AwsSource, secret: Optional[str]) -> list[Finding]:
        target = token_api(server)
        started = self.clock()
        try:
            minted = self.helper.ecr.minter.mint_now(server, source, secret)
        except AwsError as exc:
            hint = (exc.hint or "").replace("SERVER", server.key).removeprefix("hint: ")
            return [
                problem(
                    "minting",
                    f"{exc.summary()} (with {source.describe()})",
                    hint or "run again with DOCKER_CREDENTIAL_CONVOX_DEBUG=1 for the details",
                )
            ]
        finished = self.clock()
        found = ok(
            "minting",
            f"{target.service}:GetAuthorizationToken works now with {source.describe()}; the "
            f"token (not shown, not cached) expires {describe_time(minted.expires_at)}",
        )
        if target.service != SERVICE_ECR:
            return [found]
        return [found, check_clock(minted.expires_at, started, finished)]


def _keyring_problem(exc: StoreUnavailable, needed: str = "") -> Finding:
    """The keyring's one-line error as a finding: what is wrong (and, if given, what `needed`
    it), then what to do."""
    what, separator, fix = exc.message.partition("; ")  # "no usable OS keyring: ...; start one"
    if not separator:
        what, separator, fix = exc.message.partition(" is locked: ")
        what = f"{what} is locked" if separator else what
    return problem(
        "keyring",
        f"{what}, and {needed}" if needed else what,
        fix or "see Troubleshooting in the README; DOCKER_CREDENTIAL_CONVOX_DEBUG=1 shows more",
    )


def run(ctx: Context, args: argparse.Namespace) -> int:
    """`registries doctor SERVER`: one line per check; exit 1 when any finds a problem."""
    typed, server = server_from(args.server, "doctor")
    doctor = Doctor(ctx.settings, ctx.helper)
    findings = doctor.examine(typed, server)
    findings[1:1] = _containers_findings(ctx, typed, server)
    ctx.out.write(render_report(doctor.heading(typed, server), findings))
    return exit_code(findings)


def _containers_findings(ctx: Context, typed: str, server: Server) -> list[Finding]:
    """podman, skopeo and buildah's side (issue 18): the checks of registries/containers.py."""
    try:
        held = server.key in ctx.helper.entries()
    except HelperError:
        held = True  # the lines above already say what is unreadable
    try:
        routed = bool(docker_config.DockerConfig.load(ctx.docker_config_dir).routed(server.key))
    except HelperError:
        routed = False
    checks = containers.check(
        ctx.settings.environ,
        config_path(ctx),
        server.key,
        f"{NAME} registries add {typed}",
        held=held,
        routed=routed,
    )
    return [Finding(status, "containers", text, fix) for status, text, fix in checks]
