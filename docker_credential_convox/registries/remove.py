"""`registries remove SERVER`: forget a registry and its route in Docker's config."""

from __future__ import annotations

import argparse

from docker_credential_convox import dockerconfig
from docker_credential_convox.errors import HelperError
from docker_credential_convox.registries.context import Context, server_from


def run(ctx: Context, args: argparse.Namespace) -> int:
    """Forget a registry: secret, index entry, cached tokens and its credHelpers route."""
    _, server = server_from(args.server, "remove")
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
