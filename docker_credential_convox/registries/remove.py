"""`registries remove SERVER [--shared]`: forget a registry (or its shared secret) and its route
in Docker's config."""

from __future__ import annotations

import argparse

from docker_credential_convox.errors import HelperError
from docker_credential_convox.helper import entries_under
from docker_credential_convox.registries import containers, docker_config, operations
from docker_credential_convox.registries.context import Context, config_path, server_from
from docker_credential_convox.server_keys import Server


def run(ctx: Context, args: argparse.Namespace) -> int:
    """Forget a registry: secrets, index entries (its paths' too), cached tokens and its
    credHelpers route."""
    _, server = server_from(args.server, "remove")
    config = docker_config.DockerConfig.load(ctx.docker_config_dir)  # refuse a broken config
    entry = ctx.helper.entries().get(server.key)
    if args.shared:
        return _remove_shared(ctx, server, keep_route=entry is not None)
    routed = config.routed(server.key)
    # Everything stored for it: a registry's path entries too (unlike the protocol's `erase`).
    stored = entries_under(ctx.helper.entries(), server)
    if not stored and not routed:
        raise HelperError(f"no such registry: {server.url}")
    operations.erase_all(ctx.helper, server, stored)
    if stored:
        count = f"{len(stored)} entries" if len(stored) > 1 else "1 entry"
        ctx.note(f"Removed {count} for {server.key}.")
    _unroute(ctx, server)
    ctx.done()
    return 0


def _remove_shared(ctx: Context, server: Server, keep_route: bool) -> int:
    """Delete the shared secret at once (the name can be added again); the route goes too
    unless a local entry still needs it."""
    if not operations.remove_shared(ctx.helper, server):
        scope = operations.require_shared(ctx.helper).scope.text
        raise HelperError(f"no such shared registry: {server.url} in {scope}")
    if not keep_route:
        _unroute(ctx, server)
    ctx.done()
    return 0


def _unroute(ctx: Context, server: Server) -> None:
    """Drop the credHelpers entries that route `server` to the helper (and empty auths)."""

    def unroute(config: docker_config.DockerConfig) -> None:
        if config.unroute(server.key):
            config.drop_empty_auths(server.key)

    docker_config.update(ctx.docker_config_dir, unroute)
    # podman, skopeo and buildah too; the last registry gone, their drop-in goes (issue 18).
    last = (
        not ctx.helper.index.snapshot()
        and not docker_config.DockerConfig.load(ctx.docker_config_dir).routed()
    )
    containers.unwire_registry(ctx.settings.environ, config_path(ctx), server.key, last)
