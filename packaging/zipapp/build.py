"""Pack a staged site-packages directory into the single-file executable (standard library only).

    python3 packaging/zipapp/build.py SITE_PACKAGES OUTPUT

SITE_PACKAGES is what `pip install --target` made of the wheel and its dependencies (see
scripts/build-zipapp.sh). This script trims what the helper never loads, checks that every
compiled extension loads on every supported CPython, and writes OUTPUT: two lines of sh that run
`python3 -S` on it, then a zip of `__main__.py` (packaging/zipapp/__main__.py, with the build's
content hash filled in) and `site-packages/`. The same input gives the same bytes (entries
sorted, times from SOURCE_DATE_EPOCH), so the same build unpacks to the same directory on every
machine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import time
import zipfile
from pathlib import Path

BOOTSTRAP = Path(__file__).with_name("__main__.py")
# Two lines of sh before the archive (zipimport reads a zip from its end): the first python3 on
# PATH, started without `site` (docker_credential_convox/start_without_site.py loads it when
# needed), runs START (start.py) with the archive's path. Running the archive itself (`python3
# FILE`, which still works through __main__.py) goes through runpy, whose imports
# (importlib.util, contextlib, functools, collections) cost a cached `get` more than the
# helper's own.
START = Path(__file__).with_name("start.py")
BOOTSTRAP_MODULE = "docker_credential_convox_zipapp"


def shebang(identity: str) -> bytes:
    """The sh lines before the archive, with START's text for this build."""
    code = START.read_text()
    if "'" in code:
        sys.exit(f"build.py: {START} holds a single quote, which the sh line cannot carry")
    code = code.replace("@BUILD_ID@", identity)
    return f'#!/bin/sh\nexec python3 -S -c \'{code}\' "$0" "$@"\n'.encode()


SUPPORTED_CPYTHONS = ("39", "310", "311", "312", "313", "314")
# botocore services the helper calls (ECR, ECR Public, STS, Secrets Manager for shared
# registries) and those its credential providers call (SSO and SSO OIDC for `aws sso login`
# profiles, sign-in for `aws login`).
BOTOCORE_SERVICES = frozenset(
    {"ecr", "ecr-public", "sts", "secretsmanager", "sso", "sso-oidc", "signin"}
)


def trim(site: Path) -> None:
    """Drop what the helper never loads: other AWS services' models, scripts, bytecode."""
    data = site / "botocore" / "data"
    missing = BOTOCORE_SERVICES - {p.name for p in data.iterdir() if p.is_dir()}
    if missing:
        sys.exit(f"build.py: botocore has no model for {', '.join(sorted(missing))}")
    for service in data.iterdir():
        if service.is_dir() and service.name not in BOTOCORE_SERVICES:
            shutil.rmtree(service)
    for examples in data.glob("*/*/examples-1.json"):
        examples.unlink()
    shutil.rmtree(site / "bin", ignore_errors=True)
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache)


def check_extensions(site: Path) -> None:
    """Every extension is abi3, except `_cffi_backend`, present once per supported CPython."""
    for path in site.rglob("*.so"):
        if path.name.endswith(".abi3.so") or path.name.startswith("_cffi_backend.cpython-"):
            continue
        sys.exit(f"build.py: {path.relative_to(site)} loads on one CPython only")
    have = {p.name.split(".")[1].split("-")[1] for p in site.glob("_cffi_backend.cpython-*.so")}
    if have != set(SUPPORTED_CPYTHONS):
        sys.exit(f"build.py: _cffi_backend for CPython {sorted(have)}, need {SUPPORTED_CPYTHONS}")
    if list(site.glob("*.pth")):
        sys.exit("build.py: a .pth file needs site.addsitedir(), which the bootstrap skips")


def glibc_floor(site: Path) -> str:
    """The oldest glibc every compiled dependency supports, from the wheels' platform tags."""
    floor = (0, 0)
    for wheel in site.glob("*.dist-info/WHEEL"):
        tags = [
            line.split(":", 1)[1].strip()
            for line in wheel.read_text().splitlines()
            if line.startswith("Tag:")
        ]
        needs = []
        for tag in tags:
            platform = tag.rsplit("-", 1)[-1]
            if platform.startswith("manylinux_"):
                major, minor = platform.split("_")[1:3]
                needs.append((int(major), int(minor)))
            elif platform.startswith("manylinux2014"):
                needs.append((2, 17))
        if needs:
            floor = max(floor, min(needs))  # any one tag of a wheel is enough
    return "any" if floor == (0, 0) else f"{floor[0]}.{floor[1]}"


def members(site: Path) -> list[tuple[str, Path]]:
    """(name in the archive, file) for every file of site-packages, sorted."""
    files = sorted(p for p in site.rglob("*") if p.is_file())
    return [(f"site-packages/{p.relative_to(site).as_posix()}", p) for p in files]


def build_id(entries: list[tuple[str, Path]], bootstrap: bytes) -> str:
    digest = hashlib.sha256(bootstrap)
    for name, path in entries:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def write_archive(
    output: Path, entries: list[tuple[str, Path]], main_py: bytes, identity: str
) -> None:
    epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)  # zip: >= 1980
    date_time = time.gmtime(epoch)[:6]
    temp = output.with_name(f".{output.name}.tmp")
    with temp.open("wb") as raw:
        raw.write(shebang(identity))
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:

            def add(name: str, data: bytes, mode: int) -> None:
                info = zipfile.ZipInfo(name, date_time)
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)

            add("__main__.py", main_py, 0o644)
            add(f"{BOOTSTRAP_MODULE}.py", main_py, 0o644)
            for name, path in entries:
                mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
                add(name, path.read_bytes(), mode)
    temp.chmod(0o755)
    temp.replace(output)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.exit(__doc__)
    site, output = Path(argv[0]), Path(argv[1])
    trim(site)
    check_extensions(site)
    entries = members(site)
    template = BOOTSTRAP.read_bytes()
    if b'"@BUILD_ID@"' not in template:
        sys.exit(f"build.py: {BOOTSTRAP} has no @BUILD_ID@ placeholder")
    identity = build_id(entries, template + START.read_bytes())
    main_py = template.replace(b'"@BUILD_ID@"', f'"{identity}"'.encode())
    write_archive(output, entries, main_py, identity)
    print(
        f"build.py: {output}: {len(entries)} files, build {identity}, "
        f"needs glibc >= {glibc_floor(site)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
