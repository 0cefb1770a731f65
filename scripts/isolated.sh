#!/usr/bin/env bash
# Run a command in a loopback-only network namespace, so nothing it starts can leave 127.0.0.1.
# Falls back to the normal network (with a warning) only where namespaces are not permitted.
set -euo pipefail
if [[ "${DCCX_NO_NETNS:-}" != 1 ]] && unshare -n true 2>/dev/null; then
  exec unshare -n -- bash -c 'ip link set lo up && exec "$@"' bash "$@"
fi
if [[ "${CI:-}" == true ]]; then
  echo "isolated.sh: cannot create a network namespace in CI; refusing to run unisolated" >&2
  exit 1
fi
echo "isolated.sh: warning: no network namespace (not root?); running without isolation" >&2
exec "$@"
