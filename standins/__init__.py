"""Local stand-ins for the services the helper talks to, and the hermetic environment around it.

One copy, used alike by the tests (through thin pytest fixtures in tests/), the bench and the
demo (through `python -m standins`): a Secret Service on a private D-Bus bus, Debian's
docker-registry with htpasswd auth, moto_server (with ECR tokens that expire like real ones, and
a counting proxy in front), a Docker daemon and podman kept under one directory, and the clean
environment every helper process runs in. Everything listens on 127.0.0.1 only, and every
process started here is stopped by the code that started it, by process id.

Not part of the shipped helper: the wheel, the .deb and the single-file build leave it out.
"""

from __future__ import annotations


class StandInError(RuntimeError):
    """A stand-in could not start (a tool missing, a port lost, a service that never answered)."""
