#!/usr/bin/env bash
# Install the Debian packages the tests, the demo and the benchmarks use, if any is missing.
# Safe to run repeatedly; needs root (or sudo) only when something is actually missing.
set -euo pipefail

packages=(
  python3 python3-venv
  dbus gnome-keyring libsecret-tools    # a real Secret Service for the keyring tests
  docker-registry apache2-utils         # a real registry with htpasswd basic auth
  skopeo                                # a real client that uses credHelpers
  docker.io                             # a real daemon (dockerd 20.10, built-in BuildKit) and its 20.10 client
  podman buildah                        # daemonless clients that read credHelpers
  golang-docker-credential-helpers      # the Go reference helpers: compared byte for byte, import sources
  pass gnupg                            # the pass store, beside docker-credential-pass
  docker-compose                        # compose 1.29 (Python, on Debian's docker-py)
  iproute2 util-linux                   # `unshare -n` and `ip` for a loopback-only namespace
  strace                                # fault injection: a slow disk (every fsync delayed)
  ca-certificates
)
if [[ "${WITH_BENCH:-}" == 1 ]]; then
  packages+=(hyperfine amazon-ecr-credential-helper)
fi
if [[ "${WITH_DEB:-}" == 1 ]]; then
  packages+=(debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools
             python3-boto3 python3-keyring python3-cachetools lintian devscripts fakeroot)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo)
# Keep package scripts from starting system services (docker-registry would start one).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  created_policy=1
fi
trap '[[ $created_policy == 1 ]] && "${sudo[@]}" rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
