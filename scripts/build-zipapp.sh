#!/usr/bin/env bash
# Build the single-file executable for users who only drop a file on PATH: a zipapp with every
# dependency inside, which needs nothing but a CPython 3.9 or newer as `python3`.
#
#   scripts/build-zipapp.sh WHEEL   ->  dist/docker-credential-convox-VERSION-linux-ARCH.pyz
#
# - Dependencies are resolved for the oldest supported CPython (3.9) and glibc 2.28
#   (manylinux_2_28 or manylinux2014 wheels), so one file serves CPython 3.9 to 3.14 on any
#   glibc >= 2.28 Linux of that architecture. The one extension built per CPython version, cffi's
#   `_cffi_backend` (cryptography loads it; SecretStorage needs cryptography), is added once for
#   each supported version and each interpreter loads its own; cryptography's core is abi3.
# - packaging/zipapp/build.py trims botocore to the services the helper calls and packs the
#   archive reproducibly; packaging/zipapp/__main__.py is its start-up code.
#
# ZIPAPP_ARCH (default: this machine's, e.g. x86_64 or aarch64) picks the target architecture.
set -euo pipefail
cd "$(dirname "$0")/.."

wheel=${1:?usage: scripts/build-zipapp.sh WHEEL}
[[ -f $wheel ]] || { echo "build-zipapp.sh: no wheel at $wheel (run make dist)" >&2; exit 1; }
arch=${ZIPAPP_ARCH:-$(uname -m)}
# 3.9.2: cryptography's wheels exclude 3.9.0 and 3.9.1.
min_python=3.9.2
other_pythons=(3.10 3.11 3.12 3.13 3.14)
platforms=(--platform "manylinux_2_28_$arch" --platform "manylinux2014_$arch")

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' docker_credential_convox/__init__.py)
output=dist/docker-credential-convox-$version-linux-$arch.pyz
build=build/zipapp
tools=$build/tools
stage=$build/site-packages
extra=$build/cffi-wheels
rm -rf "$stage" "$extra"
mkdir -p "$build" dist

# A current pip of our own: older ones ignore Requires-Python with --python-version.
if [[ ! -x $tools/bin/python ]]; then
  "${PYTHON:-python3}" -m venv "$tools"
  "$tools/bin/python" -m pip install -q --upgrade pip
fi
pip=("$tools/bin/python" -m pip --disable-pip-version-check -q)

echo "build-zipapp.sh: resolving dependencies for CPython >= $min_python on $arch" >&2
"${pip[@]}" install --target "$stage" --only-binary=:all: "${platforms[@]}" \
  --implementation cp --python-version "$min_python" "$wheel"

cffi_version=$(find "$stage" -maxdepth 1 -name 'cffi-*.dist-info' -printf '%f\n' \
  | sed -n 's/^cffi-\(.*\)\.dist-info$/\1/p')
[[ -n $cffi_version ]] || { echo "build-zipapp.sh: cffi was not resolved" >&2; exit 1; }
for py in "${other_pythons[@]}"; do
  "${pip[@]}" download --no-deps --only-binary=:all: "${platforms[@]}" --implementation cp \
    --python-version "$py" --abi "cp${py/./}" --dest "$extra" "cffi==$cffi_version"
done
"$tools/bin/python" - "$extra" "$stage" <<'PY'
import pathlib, sys, zipfile
extra, stage = map(pathlib.Path, sys.argv[1:])
for wheel in sorted(extra.glob("cffi-*.whl")):
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith("_cffi_backend.") and name.endswith(".so"):
                (stage / name).write_bytes(archive.read(name))
PY

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 315532800)
  export SOURCE_DATE_EPOCH
fi
"$tools/bin/python" packaging/zipapp/build.py "$stage" "$output"

XDG_CACHE_HOME=$PWD/$build/cache "$tools/bin/python" "$output" version >/dev/null
echo "build-zipapp.sh: $(du -h "$output" | cut -f1) $output" >&2
echo "$output"
