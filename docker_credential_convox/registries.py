"""`docker-credential-convox registries add | remove | list | import`: Convox's registry commands.

After one `registries add SERVER`, Docker, BuildKit, skopeo and docker-py use the helper for
that registry: the credentials are checked, stored through the helper's own `store` (the OS
keyring, or the ECR backend's credential sources) and `"credHelpers": {"SERVER": "convox"}` is
merged into Docker's config.json.

Imported only for the `registries` command: argparse and the rest stay off the `get` path.
User-facing rules: prompts and notes on the terminal/stderr, `Done.` and tables on stdout; every
error is one line on stderr with exit 1, after which nothing has changed; no secret is ever
printed, and a password is never taken from argv.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Callable, NoReturn, Optional, TextIO

from docker_credential_convox import APP, dockerconfig
from docker_credential_convox.diagnostics import Diagnostics
from docker_credential_convox.errors import HelperError, UsageError
from docker_credential_convox.protocol import Credentials
from docker_credential_convox.servers import DOCKER_HUB_KEY, ECR, ECR_PUBLIC, Server, parse_server
from docker_credential_convox.settings import Settings

if TYPE_CHECKING:
    from docker_credential_convox.helper import Helper
    from docker_credential_convox.rows import Row

NAME = APP
PROG = f"{NAME} registries"
MAX_PASSWORD_BYTES = 64 * 1024
DONE = "Done."
USERNAME_PROMPT = "Username: "
PASSWORD_PROMPT = "Password: "  # noqa: S105 - a prompt


class _Exit(Exception):
    """argparse finished the command itself (--help): leave with this code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# --- the command line ------------------------------------------------------------------------

OVERVIEW = f"""\
Manage the registries Docker reaches through {NAME} (like `convox registries`).

commands:
  add SERVER     check and store credentials for SERVER, and route Docker to the helper for it
  remove SERVER  forget SERVER's credentials and its route in Docker's config.json
  list           the registries the helper knows: server, username, kind (the default command)
  import         move plaintext passwords out of Docker's config.json into the OS keyring
  doctor SERVER  say why docker gets no credentials for SERVER, one check per line

Docker's config is $DOCKER_CONFIG/config.json (default ~/.docker/config.json).
"""
OVERVIEW_EXAMPLES = f"""\
examples:
  {PROG} add registry.example.com
  {PROG} list
  {PROG} remove registry.example.com
Run `{PROG} COMMAND --help` for the details of each.
"""
ADD_DESCRIPTION = """\
Check credentials for SERVER against the registry, store them through the helper (the secret in
the OS keyring) and write "credHelpers": {"SERVER": "convox"} into Docker's config.json, so
that docker, BuildKit, skopeo and docker-py use the helper for SERVER. A plaintext password
that config.json holds for SERVER is removed from it.

On a terminal it prompts for the username and the password (not echoed). Without one, give
--username and pipe the password into --password-stdin; a password is never taken from the
command line.

Amazon ECR registries get tokens minted by the helper. The username and password are then an IAM
access key ID and secret access key (for another account's registry, say); --profile or
--role-arn records an AWS profile or role instead; with none of these (an empty username at the
prompt, or no flags without a terminal) the AWS default credential chain (environment, ~/.aws,
SSO, instance role) is used. Docker Hub is routed under both keys
clients look it up by: https://index.docker.io/v1/ (docker) and docker.io (skopeo).

--ecr-registry HOST makes SERVER another name for the ECR registry HOST (a custom domain or a
pull-through proxy in front of it): SERVER gets HOST's tokens, minted with what the options
above record for HOST, or else with the source HOST already has (the default chain if none).
"""
ADD_EXAMPLES = f"""\
examples:
  {PROG} add registry.example.com
  printf %s "$GHCR_TOKEN" | \\
      {PROG} add ghcr.io --username octocat --password-stdin
  {PROG} add 210987654321.dkr.ecr.us-east-1.amazonaws.com \\
      --username AKIAIOSFODNN7EXAMPLE --password-stdin < secret-access-key.txt
  {PROG} add 210987654321.dkr.ecr.eu-west-1.amazonaws.com --profile prod
  {PROG} add 210987654321.dkr.ecr.eu-west-1.amazonaws.com \\
      --role-arn arn:aws:iam::210987654321:role/ecr-pull --external-id d0c6e7
  {PROG} add registry.corp.example \\
      --ecr-registry 210987654321.dkr.ecr.us-east-1.amazonaws.com --profile prod
"""
REMOVE_DESCRIPTION = """\
Forget SERVER: its stored secret, its entry in the helper's registry index, its cached ECR
tokens, and the credHelpers entries that route it to the helper in Docker's config.json.
"""
REMOVE_EXAMPLES = f"""\
examples:
  {PROG} remove registry.example.com
  {PROG} remove 210987654321.dkr.ecr.us-east-1.amazonaws.com
"""
LIST_DESCRIPTION = """\
Show the registries the helper knows: SERVER, USERNAME and KIND (keyring, or ecr with the source
of its AWS credentials: access keys, profile, role, login token or the default chain; or
`ecr alias of HOST` for another name of an ECR registry).
Secrets are never shown. No network and no keyring access.
"""
LIST_EXAMPLES = f"""\
examples:
  {PROG} list
  {PROG} list --json | jq -r '.[].server'
"""
IMPORT_DESCRIPTION = """\
Move every plaintext login in Docker's config.json ("auths" entries with an "auth" field, or a
username and password, or an identity token) into the OS keyring through the helper, then route
those registries to the helper with credHelpers and remove the secrets from config.json.
Everything is stored before config.json is rewritten, so an interrupted import loses nothing
and can simply be run again. ECR logins (12-hour tokens) and registries routed to another
helper are left as they are.
"""
IMPORT_EXAMPLES = f"""\
examples:
  {PROG} import
"""
DOCTOR_DESCRIPTION = """\
Check, for SERVER, everything between `docker pull` and the credentials: which credential helper
Docker runs for it and why (DOCKER_AUTH_CONFIG, credHelpers, credsStore, or a plaintext `auths`
entry in its place), the registry's canonical key and kind, where its credentials come from and
where their secret lives, whether the OS keyring answers, and for Amazon ECR the cached token,
whether minting a token works now (one GetAuthorizationToken; the token is not kept) and the
clock against AWS's.

One line per check: `ok:`, `note:`, or `problem:` with the fix on the same line. Exit status 0
when nothing is wrong, 1 otherwise. Never prints a secret and changes nothing.
"""
DOCTOR_EXAMPLES = f"""\
examples:
  {PROG} doctor registry.example.com
  {PROG} doctor 210987654321.dkr.ecr.us-east-1.amazonaws.com
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line (never quoting a value) and never exits."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; see `{self.prog} --help`")

    def exit(self, status: int = 0, message: Optional[str] = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _Exit(status)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30, width=100)


def build_parser() -> argparse.ArgumentParser:
    """The `registries` command line."""
    parser = _Parser(
        prog=PROG,
        usage="%(prog)s [-h] [COMMAND [ARGS...]]",
        description=OVERVIEW,
        epilog=OVERVIEW_EXAMPLES,
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    # The commands are listed in OVERVIEW, in words; argparse's own listing would repeat them.
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser, help=argparse.SUPPRESS
    )

    add = commands.add_parser(
        "add",
        prog=f"{PROG} add",
        help="check and store credentials for a registry, route Docker to the helper",
        description=ADD_DESCRIPTION,
        epilog=ADD_EXAMPLES,
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    add.add_argument("server", metavar="SERVER", help="registry host[:port], as in image names")
    add.add_argument("-u", "--username", metavar="USER", help="the username (access key ID)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument(
        "-p", "--password", metavar="PASSWORD", help=argparse.SUPPRESS, dest="password"
    )
    add.add_argument(
        "--no-verify", action="store_true", help="store without checking with the registry first"
    )
    aws = add.add_argument_group("Amazon ECR")
    aws.add_argument("--profile", metavar="NAME", help="mint tokens with this AWS profile")
    aws.add_argument("--role-arn", metavar="ARN", help="mint tokens as this IAM role")
    aws.add_argument("--external-id", metavar="ID", help="the external ID the role requires")
    aws.add_argument(
        "--ecr-registry",
        metavar="HOST",
        help="SERVER is another name for this ECR registry (a custom domain or proxy)",
    )

    remove = commands.add_parser(
        "remove",
        prog=f"{PROG} remove",
        aliases=["rm"],
        help="forget a registry and its route in Docker's config",
        description=REMOVE_DESCRIPTION,
        epilog=REMOVE_EXAMPLES,
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    remove.add_argument("server", metavar="SERVER", help="the registry to forget")

    listing = commands.add_parser(
        "list",
        prog=f"{PROG} list",
        aliases=["ls"],
        help="show the registries the helper knows (default)",
        description=LIST_DESCRIPTION,
        epilog=LIST_EXAMPLES,
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array for scripts")

    doctor = commands.add_parser(
        "doctor",
        prog=f"{PROG} doctor",
        help="say why docker gets no credentials for a registry",
        description=DOCTOR_DESCRIPTION,
        epilog=DOCTOR_EXAMPLES,
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    doctor.add_argument("server", metavar="SERVER", help="the registry, as in image names")

    commands.add_parser(
        "import",
        prog=f"{PROG} import",
        help="move plaintext passwords from Docker's config into the keyring",
        description=IMPORT_DESCRIPTION,
        epilog=IMPORT_EXAMPLES,
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    return parser


# --- terminal --------------------------------------------------------------------------------


class Terminal:
    """Prompts on the controlling terminal, as getpass does; stdin and stderr without one."""

    def __init__(self, stdin: TextIO, err: TextIO) -> None:
        self.stdin = stdin
        self.err = err

    def interactive(self) -> bool:
        """Whether a person can be asked: stdin is a terminal."""
        try:
            return self.stdin.isatty()
        except (AttributeError, ValueError, OSError):
            return False

    def ask(self, prompt: str) -> str:
        """One line typed after `prompt`, echoed; EOFError on end of input."""
        try:
            tty = open("/dev/tty", "r+", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError:
            tty = None
        if tty is not None:
            with tty:
                tty.write(prompt)
                tty.flush()
                line = tty.readline()
        else:
            self.err.write(prompt)
            self.err.flush()
            line = self.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    def ask_secret(self, prompt: str) -> str:
        """One line typed after `prompt`, not echoed; EOFError on end of input."""
        import getpass
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error", getpass.GetPassWarning)  # never echo a password
            try:
                return getpass.getpass(prompt, stream=self.err)
            except getpass.GetPassWarning:
                raise UsageError(
                    "cannot turn off echo on this terminal to read the password; "
                    "pipe it into --password-stdin instead"
                ) from None


def read_password_stdin(stdin: TextIO) -> str:
    """The password piped into stdin, minus one trailing newline (as docker login does)."""
    data = stdin.read(MAX_PASSWORD_BYTES + 1)
    if len(data) > MAX_PASSWORD_BYTES:
        raise UsageError(f"the password on stdin is longer than {MAX_PASSWORD_BYTES // 1024} KiB")
    if data.endswith("\n"):
        data = data[:-1]
    if data.endswith("\r"):
        data = data[:-1]
    return data


# --- the commands ----------------------------------------------------------------------------


class Context:
    """What every command works with: streams, settings and the helper (built on first use)."""

    def __init__(self, out: TextIO, err: TextIO, stdin: TextIO, environ: Mapping[str, str]):
        self.out = out
        self.err = err
        self.terminal = Terminal(stdin, err)
        self.settings = Settings(environ)
        self.diagnostics = Diagnostics(err, self.settings.debug)
        self._helper: Optional[Helper] = None

    @property
    def helper(self) -> Helper:
        if self._helper is None:
            from docker_credential_convox.helper import Helper

            self._helper = Helper(self.settings, self.diagnostics)
        return self._helper

    @property
    def docker_config_dir(self) -> str:
        return self.settings.docker_config_dir

    def note(self, message: str) -> None:
        """A line for the person at the terminal (stderr: stdout stays for results)."""
        self.err.write(message + "\n")
        self.err.flush()

    def done(self) -> None:
        self.out.write(DONE + "\n")
        self.out.flush()


def _server_from(text: str, command: str) -> tuple[str, Server]:
    typed = text.strip()
    if not typed:
        raise UsageError(f"no server given: `{PROG} {command} SERVER`, e.g. registry.example.com")
    return typed, parse_server(typed)


def _store_url(typed: str, server: Server) -> str:
    """The ServerURL to store: how docker names the registry (Docker Hub: its index URL)."""
    if server.key == DOCKER_HUB_KEY:
        return dockerconfig.DOCKER_HUB_SERVER_URL
    return dockerconfig.config_keys_for(typed)[0]


def _is_ecr(server: Server) -> bool:
    return server.kind in (ECR, ECR_PUBLIC)


def _check_flags(args: argparse.Namespace, server: Server) -> None:
    if args.password is not None:
        raise UsageError(
            "--password is not accepted: a password on the command line shows up in `ps` and "
            "shell history; pipe it into --password-stdin instead"
        )
    aws_flags = [
        flag
        for flag, value in (
            ("--profile", args.profile),
            ("--role-arn", args.role_arn),
            ("--external-id", args.external_id),
        )
        if value is not None
    ]
    if args.ecr_registry is not None:
        _ecr_target(args.ecr_registry)  # refuse anything but a private ECR host up front
        if _is_ecr(server):
            raise UsageError(
                f"--ecr-registry gives another name to an ECR registry, and {server.key} is "
                "already one"
            )
    elif aws_flags and not _is_ecr(server):
        raise UsageError(
            f"{aws_flags[0]} applies to Amazon ECR registries only, and {server.key} is not one"
        )
    if args.external_id is not None and args.role_arn is None:
        raise UsageError("--external-id goes with --role-arn")
    if args.profile is not None and args.role_arn is not None:
        raise UsageError("give either --profile or --role-arn, not both")
    if (args.profile is not None or args.role_arn is not None) and (
        args.username is not None or args.password_stdin
    ):
        raise UsageError(
            "--profile and --role-arn replace access keys: drop --username and --password-stdin"
        )
    for flag, value in (("--profile", args.profile), ("--role-arn", args.role_arn)):
        if value is not None and not value.strip():
            raise UsageError(f"{flag} must not be blank")


def _ecr_target(typed: str) -> Server:
    """The private ECR registry --ecr-registry names; one-line UsageError otherwise."""
    from docker_credential_convox.sources.ecr import private_ecr_registry

    target = private_ecr_registry(typed)
    if target is None:
        raise UsageError(
            "--ecr-registry needs a private Amazon ECR registry host such as "
            "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        )
    return target


def _ask_login(ctx: Context, args: argparse.Namespace, what: str) -> tuple[str, str]:
    """Username and password from the flags, stdin, or prompts on a terminal."""
    username: Optional[str] = args.username
    if args.password_stdin and username is None:
        raise UsageError("--password-stdin needs --username USER")
    if not ctx.terminal.interactive() and not (username is not None and args.password_stdin):
        raise UsageError(
            "no terminal to prompt on: give --username USER and pipe the "
            f"{what} into --password-stdin"
        )
    try:
        if username is None:
            username = ctx.terminal.ask(USERNAME_PROMPT)
        if not username.strip():
            raise UsageError("the username must not be blank")
        if args.password_stdin:
            password = read_password_stdin(ctx.terminal.stdin)
        else:
            password = ctx.terminal.ask_secret(PASSWORD_PROMPT)
    except EOFError:
        raise UsageError(f"no {'username' if username is None else what} given") from None
    if not password:
        raise UsageError(f"the {what} must not be blank")
    return username, password


def cmd_add(ctx: Context, args: argparse.Namespace) -> int:
    """Check, store, route: `registries add SERVER`."""
    typed, server = _server_from(args.server, "add")
    # Docker routes and asks per registry, so `add` stores the registry's own entry.
    server = server.registry_server()
    _check_flags(args, server)
    config_keys = dockerconfig.config_keys_for(typed)
    dockerconfig.DockerConfig.load(ctx.docker_config_dir)  # refuse a broken config up front
    store_url = _store_url(typed, server)
    previous = ctx.helper.lookup(server)

    if args.ecr_registry is not None:
        _add_alias(ctx, args, server, store_url)
    elif _is_ecr(server):
        _add_ecr(ctx, args, server, store_url)
    else:
        username, password = _ask_login(ctx, args, "password")
        if not args.no_verify:
            from docker_credential_convox.verify import check_credentials

            checked = check_credentials(server.key, username, password)
            if checked.method == "none":
                ctx.note(
                    f"note: {server.key} lets anyone in without credentials; they were stored "
                    "unchecked"
                )
        ctx.helper.store(Credentials(store_url, username, password))

    try:
        replaced, stripped = dockerconfig.update(
            ctx.docker_config_dir, lambda config: _route(config, config_keys, server)
        )
    except HelperError:
        if previous is None:  # leave nothing behind of what this command stored
            with contextlib.suppress(HelperError):
                ctx.helper.erase(store_url)
        raise
    for key, helper in sorted(replaced.items()):
        ctx.note(f"note: {key} was routed to docker-credential-{helper}; now to {NAME}")
    for key in stripped:
        ctx.note(f"Removed the plaintext password for {key} from {_config_path(ctx)}.")
    ctx.done()
    return 0


def _route(
    config: dockerconfig.DockerConfig, config_keys: Sequence[str], server: Server
) -> tuple[dict[str, str], list[str]]:
    replaced = config.route(config_keys)
    stripped = config.strip_secrets(server.key)
    return replaced, stripped


def _config_path(ctx: Context) -> str:
    return os.path.join(ctx.docker_config_dir, dockerconfig.CONFIG_FILE)


def _add_ecr(ctx: Context, args: argparse.Namespace, server: Server, store_url: str) -> None:
    """Store access keys, or record a profile or role, or check the default chain."""
    from docker_credential_convox.sources.ecr import PROFILE_PREFIX, ROLE_PREFIX

    if args.profile is not None:
        credentials = Credentials(store_url, PROFILE_PREFIX + args.profile.strip(), "")
    elif args.role_arn is not None:
        credentials = Credentials(
            store_url, ROLE_PREFIX + args.role_arn.strip(), (args.external_id or "").strip()
        )
    elif args.username is not None or args.password_stdin:
        username, secret = _ask_login(ctx, args, "secret access key")
        credentials = Credentials(store_url, username, secret)
    else:
        prompted = _ask_access_keys(ctx, store_url)
        if prompted is None:
            _use_default_chain(ctx, args, server)
            return
        credentials = prompted
    ctx.helper.store(credentials, verify=not args.no_verify)


def _ask_access_keys(ctx: Context, store_url: str) -> Optional[Credentials]:
    """On a terminal, an access key ID and secret access key typed at Convox's prompts; None
    (the default chain) without a terminal, or when the username is left empty."""
    if not ctx.terminal.interactive():
        return None  # scripts give flags; with none, the default chain as before
    try:
        access_key_id = ctx.terminal.ask(USERNAME_PROMPT).strip()
        if not access_key_id:
            return None
        secret = ctx.terminal.ask_secret(PASSWORD_PROMPT)
    except EOFError:
        raise UsageError("no access key ID or secret access key given") from None
    if not secret:
        raise UsageError("the secret access key must not be blank")
    return Credentials(store_url, access_key_id, secret)


def _add_alias(ctx: Context, args: argparse.Namespace, server: Server, store_url: str) -> None:
    """Record SERVER as another name of the --ecr-registry host: any source the AWS options
    give is recorded for that host (as `add HOST` would), then the alias points at it."""
    target = _ecr_target(args.ecr_registry)
    gives_source = args.password_stdin or any(
        value is not None for value in (args.profile, args.role_arn, args.username)
    )
    if gives_source:
        _add_ecr(ctx, args, target, _store_url(args.ecr_registry.strip(), target))
    ctx.helper.alias(server, store_url, target, verify=not args.no_verify)


def _use_default_chain(ctx: Context, args: argparse.Namespace, server: Server) -> None:
    """Check that the AWS default chain mints a token for `server`; forget any stored source."""
    from docker_credential_convox.sources.ecr import CHAIN_DESCRIPTION

    ctx.note(
        f"Using {CHAIN_DESCRIPTION} for {server.key} (for an IAM user's access keys give "
        "--username ACCESS_KEY_ID --password-stdin; or --profile NAME, or --role-arn ARN)."
    )
    ctx.helper.use_default_chain(server, verify=not args.no_verify)


def cmd_remove(ctx: Context, args: argparse.Namespace) -> int:
    """Forget a registry: secret, index entry, cached tokens and its credHelpers route."""
    _, server = _server_from(args.server, "remove")
    config = dockerconfig.DockerConfig.load(ctx.docker_config_dir)  # refuse a broken config
    entry = ctx.helper.lookup(server)
    routed = config.routed(server.key)
    if entry is None and not routed:
        raise HelperError(f"no such registry: {server.url}")
    ctx.helper.erase(entry.server_url if entry is not None else server.url)

    def unroute(config: dockerconfig.DockerConfig) -> None:
        if config.unroute(server.key):
            config.drop_empty_auths(server.key)

    dockerconfig.update(ctx.docker_config_dir, unroute)
    ctx.done()
    return 0


def collect_rows(ctx: Context) -> Sequence[Row]:
    """Every registry the helper knows: index entries, then ECR registries on the default chain
    (routed to the helper in Docker's config, or holding a cached token)."""
    try:
        config = dockerconfig.DockerConfig.load(ctx.docker_config_dir)
        routed = [
            key
            for key, helper in config.cred_helpers().items()
            if helper == dockerconfig.HELPER_NAME
        ]
    except HelperError as exc:
        ctx.note(f"warning: {exc.message}")
        routed = []
    return ctx.helper.rows(routed)


def render_table(rows: Sequence[Row]) -> str:
    """SERVER USERNAME KIND, columns two spaces apart."""
    table = [("SERVER", "USERNAME", "KIND")] + [
        (row.server, row.username or "-", row.kind_text) for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(2)]
    return "".join(
        f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]}".rstrip() + "\n"
        for line in table
    )


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    """`registries list`: a table, or JSON with --json."""
    rows = collect_rows(ctx)
    if getattr(args, "json", False):
        ctx.out.write(json.dumps([row.to_json() for row in rows], indent=2) + "\n")
        return 0
    ctx.out.write(render_table(rows))
    if not rows:
        ctx.note(f"No registries yet: add one with `{PROG} add SERVER`.")
    return 0


STALE = "stale"  # a plaintext copy of credentials the helper already holds


def _triage(
    ctx: Context, config: dockerconfig.DockerConfig, config_key: str
) -> tuple[Optional[Server], Optional[str]]:
    """The registry of an `auths` entry, and why it is not imported (None: import it)."""
    try:
        # Docker reads an `auths` entry for its host, whatever path its key has.
        server = parse_server(config_key).registry_server()
    except HelperError:
        return None, "not a registry name the helper understands"
    if _is_ecr(server):
        return server, (
            f"ECR logins are 12-hour tokens; run `{PROG} add {server.key}` to give the helper "
            "AWS credentials instead"
        )
    helpers = config.helpers_for(server.key)
    others = sorted({h for h in helpers.values() if h != dockerconfig.HELPER_NAME})
    if others:
        return server, f"Docker reads it from docker-credential-{others[0]} (credHelpers)"
    if helpers and ctx.helper.lookup(server) is not None:
        return server, STALE  # Docker already asks the helper, which holds newer credentials
    return server, None


def cmd_import(ctx: Context, args: argparse.Namespace) -> int:
    """Move plaintext logins from config.json into the keyring; store first, rewrite after."""
    config = dockerconfig.DockerConfig.load(ctx.docker_config_dir)
    moved: list[tuple[str, Server, dockerconfig.PlaintextLogin]] = []
    stale: list[tuple[str, Server]] = []
    for login in config.plaintext_logins():
        if isinstance(login, dockerconfig.UnreadableLogin):
            ctx.note(f"Skipped {login.config_key}: {login.reason}.")
            continue
        server, reason = _triage(ctx, config, login.config_key)
        if server is not None and reason is None:
            moved.append((login.config_key, server, login))
        elif server is not None and reason == STALE:
            stale.append((login.config_key, server))
        else:
            ctx.note(f"Skipped {login.config_key}: {reason}.")
    if not moved and not stale:
        ctx.out.write(f"Nothing to import: no plaintext passwords in {config.path}.\n")
        return 0

    stored = 0
    try:
        for config_key, server, login in moved:
            ctx.helper.store(
                Credentials(_store_url(config_key, server), login.username, login.secret)
            )
            stored += 1
    except HelperError as exc:
        raise HelperError(
            f"{exc.message} (stored {stored} of {len(moved)}; {config.path} is unchanged: "
            "run the import again once this is fixed)",
            exc.hint,
        ) from None

    def rewrite(config: dockerconfig.DockerConfig) -> None:
        for config_key, server, _ in moved:
            config.route(dockerconfig.config_keys_for(config_key))
            config.strip_secrets(server.key)
        for _, server in stale:
            config.strip_secrets(server.key)

    dockerconfig.update(ctx.docker_config_dir, rewrite)
    for config_key, _, login in moved:
        shown = "an identity token" if login.username == "<token>" else login.username
        ctx.out.write(f"Moved {config_key} ({shown}) into the OS keyring.\n")
    for config_key, _ in stale:
        ctx.out.write(
            f"Removed the plaintext password for {config_key}: the helper already holds its "
            "credentials.\n"
        )
    ctx.done()
    return 0


def cmd_doctor(ctx: Context, args: argparse.Namespace) -> int:
    """`registries doctor SERVER`: one line per check; exit 1 when any finds a problem."""
    from docker_credential_convox.doctor import Doctor, exit_code, render_report

    typed, server = _server_from(args.server, "doctor")
    doctor = Doctor(ctx.settings, ctx.helper)
    findings = doctor.examine(typed, server)
    ctx.out.write(render_report(doctor.heading(typed, server), findings))
    return exit_code(findings)


COMMANDS: dict[str, Callable[[Context, argparse.Namespace], int]] = {
    "add": cmd_add,
    "remove": cmd_remove,
    "rm": cmd_remove,
    "list": cmd_list,
    "ls": cmd_list,
    "import": cmd_import,
    "doctor": cmd_doctor,
}


def _unknown_arguments(words: Sequence[str], command: Optional[str]) -> UsageError:
    """The error for words argparse did not take, quoting only the options among them: the
    word after a mistyped option may be a password."""
    options = [word.split("=", 1)[0] for word in words if word.startswith("-")]
    what = f"unknown option {' '.join(options)}" if options else "unexpected arguments"
    prog = f"{PROG} {command}" if command else PROG
    return UsageError(f"{what}; see `{prog} --help`")


def _report(err: TextIO, exc: HelperError) -> None:
    """An error as one line, then its hint (what to do about it) when it has one."""
    err.write(" ".join(exc.message.split()) + "\n")
    if exc.hint:
        err.write(exc.hint.rstrip("\n") + "\n")


def main(
    argv: Sequence[str],
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str],
    stdin: Optional[TextIO] = None,
) -> int:
    """Run `registries ARGV...` and return the exit code."""
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args, unknown = parser.parse_known_args(list(argv))
        if unknown:
            raise _unknown_arguments(unknown, args.command)
    except _Exit as done:
        return done.code
    except UsageError as exc:
        _report(err, exc)
        return 1
    ctx = Context(out, err, stdin or sys.stdin, environ)
    command = COMMANDS[args.command or "list"]
    try:
        return command(ctx, args)
    except HelperError as exc:
        _report(err, exc)
        return 1
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        if ctx.settings.debug:
            import traceback

            traceback.print_exc(file=err)
        err.write(
            f"internal error in {PROG} ({type(exc).__name__}); "
            "set DOCKER_CREDENTIAL_CONVOX_DEBUG=1 and retry to see the details\n"
        )
        return 1
