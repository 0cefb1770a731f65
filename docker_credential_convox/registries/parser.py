"""The `registries` command line: argparse, the help texts, and one-line usage errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn, Optional

from docker_credential_convox import APP
from docker_credential_convox.registries.errors import UsageError

NAME = APP
PROG = f"{NAME} registries"


class Exit(Exception):
    """argparse finished the command itself (--help): leave with this code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


OVERVIEW = f"""\
Manage the registries Docker reaches through {NAME} (like `convox registries`).

commands:
  add SERVER     check and store credentials for SERVER, and route Docker to the helper for it
  remove SERVER  forget SERVER's credentials and its route in Docker's config.json
  list           the registries the helper knows: server, username, kind (the default command)
  import         move plaintext passwords out of Docker's config.json into the OS keyring
                 (--from-helper NAME: copy another credential helper's entries)
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
that config.json holds for SERVER is removed from it. podman, skopeo and buildah are wired too:
~/.config/containers/registries.conf.d/docker-credential-convox.conf puts "convox" first in
their credential-helpers (their login then stores through the helper, also after a reboot), and
SERVER's plaintext copies in their auth files ($XDG_RUNTIME_DIR/containers/auth.json,
~/.config/containers/auth.json, $REGISTRY_AUTH_FILE) are removed.

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

--shared writes the checked credentials as ONE secret in AWS Secrets Manager, in the scope
DOCKER_CREDENTIAL_CONVOX_SHARED=secretsmanager:PREFIX names (or "shared" in the helper's
config.json), instead of the OS keyring: every machine pointed at the scope answers SERVER from
it, without a keyring. The secret is PREFIX/<registry key>, tagged managed-by and with the
registry and source; --kms-key-id encrypts it with a customer KMS key. Adding it again replaces
its value (rotation); machines follow within DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE. For an ECR
registry, share an IAM user's access keys (each machine mints its own tokens) or --role-arn.
Needs AWS credentials allowed secretsmanager:CreateSecret, PutSecretValue, DescribeSecret,
UpdateSecret and TagResource on PREFIX/*.
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
  DOCKER_CREDENTIAL_CONVOX_SHARED=secretsmanager:docker-credential-convox/prod \\
      {PROG} add registry.example.com --shared
"""
REMOVE_DESCRIPTION = """\
Forget SERVER: its stored secret, its entry in the helper's registry index, its cached ECR
tokens, and the credHelpers entries that route it to the helper in Docker's config.json and in
the auth files of podman, skopeo and buildah; with the last registry gone, their registries.conf
drop-in too.

--shared deletes SERVER's secret from the shared scope instead (at once, without a recovery
window, so it can be added again right away); machines stop answering it within
DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE. Its route goes too unless a local entry remains.
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
Secrets are never shown. No keyring access. With a shared scope configured, the shared
registries follow, their KIND ending in `shared in secretsmanager:PREFIX` (in --json, a field
"scope", "local" for local rows), listed through the machine's cache (ListSecrets and
GetSecretValue at most once per max age); otherwise no network.
"""
LIST_EXAMPLES = f"""\
examples:
  {PROG} list
  {PROG} list --json | jq -r '.[].server'
"""
IMPORT_DESCRIPTION = """\
Move every plaintext login in Docker's config.json ("auths" entries with an "auth" field, or a
username and password, or an identity token) and in the auth files of podman, skopeo and buildah
($XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json, $REGISTRY_AUTH_FILE)
into the OS keyring through the helper, then route those registries to the helper (credHelpers
in config.json; podman, skopeo and buildah as `add` does) and remove the secrets from the files.
Everything is stored before any file is rewritten, so an interrupted import loses nothing and
can simply be run again. ECR logins (12-hour tokens) and registries routed to another helper are
left as they are.

--from-helper NAME copies every entry of another credential helper, docker-credential-NAME
(say secretservice, pass, osxkeychain), instead: its `list`, then `get` of each server, all read
before anything is stored (any failure: one line, nothing changed); then each entry is stored
through this helper and its registry routed here, as above. The entries stay in the other helper:
nothing is erased there.
"""
IMPORT_EXAMPLES = f"""\
examples:
  {PROG} import
  {PROG} import --from-helper secretservice
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
        raise Exit(status)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30, width=100)


def _subcommand(
    commands: argparse._SubParsersAction[_Parser],
    name: str,
    summary: str,
    description: str,
    epilog: str,
    *,
    aliases: Sequence[str] = (),
) -> _Parser:
    """One command's parser, with its help texts, formatted as the others are."""
    return commands.add_parser(
        name,
        prog=f"{PROG} {name}",
        aliases=list(aliases),
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=_formatter,
        allow_abbrev=False,
    )


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

    add = _subcommand(
        commands,
        "add",
        "check and store credentials for a registry, route Docker to the helper",
        ADD_DESCRIPTION,
        ADD_EXAMPLES,
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
    fleet = add.add_argument_group("shared by a fleet (AWS Secrets Manager)")
    fleet.add_argument(
        "--shared",
        action="store_true",
        help="write one secret to the shared scope (DOCKER_CREDENTIAL_CONVOX_SHARED), not the "
        "keyring",
    )
    fleet.add_argument(
        "--kms-key-id", metavar="KEY", help="encrypt the shared secret with this KMS key"
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

    remove = _subcommand(
        commands,
        "remove",
        "forget a registry and its route in Docker's config",
        REMOVE_DESCRIPTION,
        REMOVE_EXAMPLES,
        aliases=["rm"],
    )
    remove.add_argument("server", metavar="SERVER", help="the registry to forget")
    remove.add_argument(
        "--shared",
        action="store_true",
        help="delete its secret from the shared scope (at once, no recovery window)",
    )

    listing = _subcommand(
        commands,
        "list",
        "show the registries the helper knows (default)",
        LIST_DESCRIPTION,
        LIST_EXAMPLES,
        aliases=["ls"],
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array for scripts")

    doctor = _subcommand(
        commands,
        "doctor",
        "say why docker gets no credentials for a registry",
        DOCTOR_DESCRIPTION,
        DOCTOR_EXAMPLES,
    )
    doctor.add_argument("server", metavar="SERVER", help="the registry, as in image names")

    importing = _subcommand(
        commands,
        "import",
        "move plaintext passwords from Docker's config into the keyring",
        IMPORT_DESCRIPTION,
        IMPORT_EXAMPLES,
    )
    importing.add_argument(
        "--from-helper",
        metavar="NAME",
        help="copy every entry of docker-credential-NAME instead (its entries stay there)",
    )
    return parser
