"""moto_server or moto_proxy, with ECR tokens that expire 12 hours from now.

moto 5.2 answers GetAuthorizationToken with `expiresAt` fixed at 2015-01-01: both helpers would
treat such a token as expired (ours refuses it; the Go helper re-mints on every call). This
launcher wraps moto's ECR response handler so the expiry looks like real ECR's, then runs moto's
own entry point unchanged:

    python standins/moto_patched.py server -H 127.0.0.1 -p PORT
    python standins/moto_patched.py proxy [--certdir DIR] -H 127.0.0.1 -p PORT

`--certdir` keeps the per-host certificates moto_proxy mints out of the installed moto package.
Run by its path (standins/moto_servers.py does), it imports nothing but moto and the standard
library; no module beside it may be named like one moto imports (its directory is on sys.path).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from typing import Any

TOKEN_LIFETIME = timedelta(hours=12)


def patch_ecr_expiry() -> None:
    from moto.ecr import responses

    original = responses.ECRResponse.get_authorization_token

    def get_authorization_token(self: Any) -> Any:
        result = original(self)
        expires = datetime.now(timezone.utc) + TOKEN_LIFETIME
        document: Any = result.result
        for data in document["authorizationData"]:
            data["expiresAt"] = expires
        return result

    responses.ECRResponse.get_authorization_token = get_authorization_token  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("server", "proxy"):
        sys.exit("usage: moto_patched.py server|proxy [--certdir DIR] MOTO-ARGS...")
    kind, rest = argv[0], argv[1:]
    patch_ecr_expiry()
    if kind == "server":
        from moto.server import main as server_main

        server_main(rest)
        return
    if rest[:1] == ["--certdir"]:
        import os
        import shutil

        from moto.moto_proxy.certificate_creator import CertificateCreator

        certdir = rest[1]
        os.makedirs(certdir, exist_ok=True)
        # moto reads its OpenSSL request template from the certificate directory.
        shutil.copy(os.path.join(CertificateCreator.certdir, "req.conf.tmpl"), certdir)
        CertificateCreator.certdir = certdir.rstrip("/") + "/"
        rest = rest[2:]
    from moto.proxy import main as proxy_main

    proxy_main(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
