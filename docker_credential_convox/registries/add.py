"""`registries add SERVER`: check the credentials, store them through the helper, route Docker."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from typing import Optional

from docker_credential_convox.errors import HelperError
from docker_credential_convox.protocol import Credentials, is_valid_unicode
from docker_credential_convox.registries import containers, docker_config, operations
from docker_credential_convox.registries.context import (
    Context,
    config_path,
    is_ecr,
    server_from,
    url_to_store,
)
from docker_credential_convox.registries.errors import UsageError
from docker_credential_convox.registries.parser import NAME
from docker_credential_convox.registries.terminal import (
    PASSWORD_PROMPT,
    USERNAME_PROMPT,
    read_password_stdin,
)
from docker_credential_convox.server_keys import Server
from docker_credential_convox.sources import ROLE_PREFIX
from docker_credential_convox.sources.ecr import (
    CHAIN_DESCRIPTION,
    PROFILE_PREFIX,
    private_ecr_registry,
)


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
        if is_ecr(server):
            raise UsageError(
                f"--ecr-registry gives another name to an ECR registry, and {server.key} is "
                "already one"
            )
    elif aws_flags and not is_ecr(server):
        raise UsageError(
            f"{aws_flags[0]} applies to Amazon ECR registries only, and {server.key} is not one"
        )
    if args.kms_key_id is not None and not args.shared:
        raise UsageError("--kms-key-id goes with --shared")
    if args.shared and args.ecr_registry is not None:
        raise UsageError("--ecr-registry cannot be shared: add the ECR registry itself --shared")
    if args.shared and args.profile is not None:
        raise UsageError(
            "--profile cannot be shared (a profile is one machine's): share access keys "
            "(--username ACCESS_KEY_ID --password-stdin) or --role-arn"
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
    _require_unicode("username", username)
    _require_unicode(what, password)
    return username, password


def _require_secret_store(ctx: Context, key: str) -> None:
    """Ask the store that will keep the secret (the OS keyring, or pass) whether it answers, so
    that a missing or locked one is said in one line before any prompt or check, not after."""
    ctx.helper.secrets.store.find_username(key)  # StoreUnavailable says what to do


def _require_unicode(what: str, value: str) -> None:
    """A one-line UsageError naming `what` when `value` holds bytes that were not UTF-8: no store
    can keep it, and the encoder's own error would quote the byte and its position."""
    if not is_valid_unicode(value):
        raise UsageError(f"the {what} is not valid UTF-8 text; give it as UTF-8")


def run(ctx: Context, args: argparse.Namespace) -> int:
    """Check, store, route: `registries add SERVER`."""
    typed, server = server_from(args.server, "add")
    # Docker routes and asks per registry, so `add` stores the registry's own entry.
    server = server.registry_server()
    _check_flags(args, server)
    config_keys = docker_config.config_keys_for(typed)
    docker_config.DockerConfig.load(ctx.docker_config_dir)  # refuse a broken config up front
    store_url = url_to_store(typed, server)
    previous = ctx.helper.entries().get(server.key)

    if args.shared:
        _add_shared(ctx, args, server, store_url)
    elif args.ecr_registry is not None:
        _add_alias(ctx, args, server, store_url)
    elif is_ecr(server):
        _add_ecr(ctx, args, server, store_url)
    else:
        _require_secret_store(ctx, server.key)
        username, password = _ask_login(ctx, args, "password")
        if not args.no_verify:
            # ssl and http.client: only when a login is checked with its registry
            from docker_credential_convox.registries.login_check import check_credentials

            checked = check_credentials(server.key, username, password)
            if checked.method == "none":
                ctx.note(
                    f"note: {server.key} lets anyone in without credentials; they were stored "
                    "unchecked"
                )
        ctx.helper.store(Credentials(store_url, username, password))

    try:
        replaced, stripped = docker_config.update(
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
        ctx.note(f"Removed the plaintext password for {key} from {config_path(ctx)}.")
    # podman, skopeo and buildah: their own auth files and registries.conf (issue 18).
    for line in containers.wire_registry(ctx.settings.environ, config_path(ctx), server.key):
        ctx.note(line)
    ctx.done()
    return 0


def _add_shared(ctx: Context, args: argparse.Namespace, server: Server, store_url: str) -> None:
    """Check, then write ONE secret to the shared scope (no keyring, no index entry)."""
    shared = operations.require_shared(ctx.helper)  # refuse before any prompt without a scope
    if is_ecr(server):
        ecr_credentials = _ecr_credentials(ctx, args, store_url)
        if ecr_credentials is None:
            raise UsageError(
                f"--shared for {server.key} needs access keys (--username ACCESS_KEY_ID "
                "--password-stdin) or --role-arn: every machine has its own default chain"
            )
        credentials = ecr_credentials
        verify = not args.no_verify  # the helper mints a token with them first
    else:
        username, password = _ask_login(ctx, args, "password")
        if not args.no_verify:
            # ssl and http.client: only when a login is checked with its registry
            from docker_credential_convox.registries.login_check import check_credentials

            check_credentials(server.key, username, password)
        credentials = Credentials(store_url, username, password)
        verify = False  # checked with the registry just now
    created = operations.store_shared(ctx.helper, credentials, args.kms_key_id, verify=verify)
    ctx.note(
        f"{'Shared' if created else 'Replaced the shared entry of'} {server.key} in "
        f"{shared.scope.text}."
    )


def _route(
    config: docker_config.DockerConfig, config_keys: Sequence[str], server: Server
) -> tuple[dict[str, str], list[str]]:
    replaced = config.route(config_keys)
    stripped = config.strip_secrets(server.key)
    return replaced, stripped


def _add_ecr(ctx: Context, args: argparse.Namespace, server: Server, store_url: str) -> None:
    """Store access keys, or record a profile or role, or check the default chain."""
    credentials = _ecr_credentials(ctx, args, store_url)
    if credentials is None:
        _use_default_chain(ctx, args, server)
        return
    ctx.helper.store(credentials, verify=not args.no_verify)


def _ecr_credentials(
    ctx: Context, args: argparse.Namespace, store_url: str
) -> Optional[Credentials]:
    """The `store` request of the ECR source the flags (or prompts) give; None: the default
    chain (no flags and no terminal, or an empty access key ID at the prompt)."""
    if args.profile is not None:
        return Credentials(store_url, PROFILE_PREFIX + args.profile.strip(), "")
    if args.role_arn is not None:
        return Credentials(
            store_url, ROLE_PREFIX + args.role_arn.strip(), (args.external_id or "").strip()
        )
    keeps_secret = not args.shared  # in the keyring; a shared entry keeps it in the scope
    if args.username is not None or args.password_stdin:
        if keeps_secret:
            _require_secret_store(ctx, store_url)
        username, secret = _ask_login(ctx, args, "secret access key")
        return Credentials(store_url, username, secret)
    return _ask_access_keys(ctx, store_url, keeps_secret)


def _ask_access_keys(ctx: Context, store_url: str, keeps_secret: bool) -> Optional[Credentials]:
    """On a terminal, an access key ID and secret access key typed at Convox's prompts; None
    (the default chain) without a terminal, or when the username is left empty. With
    `keeps_secret`, the keyring must answer before the secret is asked for."""
    if not ctx.terminal.interactive():
        return None  # scripts give flags; with none, the default chain as before
    try:
        access_key_id = ctx.terminal.ask(USERNAME_PROMPT).strip()
        if not access_key_id:
            return None
        if keeps_secret:  # an empty access key ID (the default chain) needs no keyring
            _require_secret_store(ctx, store_url)
        secret = ctx.terminal.ask_secret(PASSWORD_PROMPT)
    except EOFError:
        raise UsageError("no access key ID or secret access key given") from None
    if not secret:
        raise UsageError("the secret access key must not be blank")
    _require_unicode("access key ID", access_key_id)
    _require_unicode("secret access key", secret)
    return Credentials(store_url, access_key_id, secret)


def _add_alias(ctx: Context, args: argparse.Namespace, server: Server, store_url: str) -> None:
    """Record SERVER as another name of the --ecr-registry host: any source the AWS options
    give is recorded for that host (as `add HOST` would), then the alias points at it."""
    target = _ecr_target(args.ecr_registry)
    gives_source = args.password_stdin or any(
        value is not None for value in (args.profile, args.role_arn, args.username)
    )
    if gives_source:
        _add_ecr(ctx, args, target, url_to_store(args.ecr_registry.strip(), target))
    operations.alias(ctx.helper, server, store_url, target, verify=not args.no_verify)


def _use_default_chain(ctx: Context, args: argparse.Namespace, server: Server) -> None:
    """Check that the AWS default chain mints a token for `server`; forget any stored source."""
    ctx.note(
        f"Using {CHAIN_DESCRIPTION} for {server.key} (for an IAM user's access keys give "
        "--username ACCESS_KEY_ID --password-stdin; or --profile NAME, or --role-arn ARN)."
    )
    operations.use_default_chain(ctx.helper, server, verify=not args.no_verify)
