"""`registries list`: the registries the helper knows, as a table or JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from docker_credential_convox.errors import HelperError
from docker_credential_convox.registries import docker_config
from docker_credential_convox.registries.context import Context
from docker_credential_convox.registries.parser import PROG
from docker_credential_convox.registries.rows import Row, known_rows


def collect_rows(ctx: Context) -> Sequence[Row]:
    """Every registry the helper knows: index entries, then ECR registries on the default chain
    (routed to the helper in Docker's config, or holding a cached token)."""
    try:
        config = docker_config.DockerConfig.load(ctx.docker_config_dir)
        routed = [
            key
            for key, helper in config.cred_helpers().items()
            if helper == docker_config.HELPER_NAME
        ]
    except HelperError as exc:
        ctx.note(f"warning: {exc.message}")
        routed = []
    return known_rows(ctx.helper, routed)


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


def run(ctx: Context, args: argparse.Namespace) -> int:
    """`registries list`: a table, or JSON with --json."""
    rows = collect_rows(ctx)
    if getattr(args, "json", False):
        ctx.out.write(json.dumps([row.to_json() for row in rows], indent=2) + "\n")
        return 0
    ctx.out.write(render_table(rows))
    if not rows:
        ctx.note(f"No registries yet: add one with `{PROG} add SERVER`.")
    return 0
