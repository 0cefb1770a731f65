"""Many `get` processes on a cold cache at once: one GetAuthorizationToken between them all."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import HELPER

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator"]

GET_TOKEN = "ecr:GetAuthorizationToken"

HOST = "123456789012.dkr.ecr.us-east-2.amazonaws.com"


@pytest.mark.parametrize("processes", [32, 48])
def test_concurrent_cold_gets_of_the_installed_helper_mint_exactly_one_token(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, processes: int, tmp_path: Path
) -> None:
    # A slow mint keeps the lock held while the other processes arrive and queue behind it.
    aws_proxy.delay(GET_TOKEN, 1.0)
    env = {**ecr_env, "DOCKER_CREDENTIAL_CONVOX_DEBUG": "1"}
    started = time.monotonic()
    children = []
    for number in range(processes):
        stdout = (tmp_path / f"{number}.out").open("wb")
        stderr = (tmp_path / f"{number}.err").open("wb")
        with stdout, stderr:  # the child keeps its own copies of the descriptors
            children.append(
                subprocess.Popen(
                    [str(HELPER), "get"],
                    stdin=subprocess.PIPE,
                    stdout=stdout,
                    stderr=stderr,
                    env=env,
                )
            )
    for child in children:  # all started and importing; now release them together
        assert child.stdin is not None
        child.stdin.write(HOST.encode())
        child.stdin.close()
    results = []
    for number, child in enumerate(children):
        child.wait(timeout=120)
        out = (tmp_path / f"{number}.out").read_text()
        err = (tmp_path / f"{number}.err").read_text()
        results.append((child.returncode, out, err))
    elapsed = time.monotonic() - started

    failures = [r for r in results if r[0] != 0]
    assert not failures, failures[:3]
    secrets = {json.loads(out)["Secret"] for _, out, _ in results}
    assert len(secrets) == 1
    assert aws_proxy.count(GET_TOKEN) == 1
    minted = sum("minted a token" in err for _, _, err in results)
    waited = sum("minted by another process" in err for _, _, err in results)
    hits = sum("token cache hit" in err for _, _, err in results)
    assert (minted, minted + waited + hits) == (1, processes)
    print(f"{processes} processes: 1 mint, {waited} waited on the lock, {hits} hit, {elapsed:.2f}s")
