#!/usr/bin/env bash
# The whole story of docker-credential-convox, end to end, against local stand-ins:
#   a private registry (Debian's docker-registry, htpasswd basic auth, on 127.0.0.1),
#   a private Secret Service (its own D-Bus session bus and gnome-keyring),
#   an AWS emulator for ECR (moto_server on 127.0.0.1),
# with a throw-away HOME, so nothing of the user's (keyring, ~/.docker, ~/.aws) is read or touched.
#
# Run it with `make demo` (installs the Debian packages and the venv first). Needs nothing beyond
# 127.0.0.1: it can run inside `unshare -n`. Prints each step; exits non-zero when one fails;
# stops exactly the processes it started and removes its directory on the way out.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-.venv}
[[ $VENV == /* ]] || VENV="$ROOT/$VENV"
BIN="$VENV/bin"
HELPER="$BIN/docker-credential-convox"

# The stand-ins (Secret Service, registry, moto) are the tests' and the bench's: standins/.
standins() { PYTHONPATH="$ROOT" "$BIN/python" -m standins "$@"; }
# A cross-account ECR registry and an IAM user's access keys (AWS's documented example keys: the
# emulator checks no signature).
ECR_HOST=210987654321.dkr.ecr.us-east-1.amazonaws.com
ECR_ACCESS_KEY_ID=AKIAI44QH8DHBEXAMPLE
ECR_SECRET_ACCESS_KEY=je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY
# An ECR registry nobody added: Docker never asks the helper, and there are no AWS credentials.
UNROUTED_ECR_HOST=123456789012.dkr.ecr.eu-west-1.amazonaws.com
IMAGE_REPOSITORY=convox/hello
IMAGE_TAG=v1

if [[ -t 1 ]]; then BOLD=$'\e[1m' GREEN=$'\e[32m' RED=$'\e[31m' DIM=$'\e[2m' RESET=$'\e[0m'
else BOLD='' GREEN='' RED='' DIM='' RESET=''; fi

STEP=0
step() { STEP=$((STEP + 1)); printf '\n%s== %d. %s%s\n' "$BOLD" "$STEP" "$*" "$RESET"; }
show() { printf '%s$ %s%s\n' "$DIM" "$*" "$RESET"; }
ok() { printf '%sok%s %s\n' "$GREEN" "$RESET" "$*"; }
fail() { printf '%sFAILED%s %s\n' "$RED" "$RESET" "$*" >&2; exit 1; }
# Run a command, showing it first; stop the demo if it fails.
run() { show "$*"; "$@" || fail "step $STEP: \`$*\` exited with $?"; }

for tool in "$HELPER" "$BIN/python" docker skopeo docker-registry htpasswd dbus-daemon \
            dbus-send gnome-keyring-daemon; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing: run \`make demo\`, which installs it"
done

# --- a throw-away world ------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/convox-demo.XXXXXX")
PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
  if ((status == 0)); then
    printf '\n%sDemo finished: every step passed.%s\n' "$GREEN$BOLD" "$RESET"
  else
    printf '\n%sDemo failed (exit %d); everything it started has been stopped.%s\n' \
      "$RED$BOLD" "$status" "$RESET" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Nothing of the caller's environment that could reach their keyring, Docker or AWS setup
# (the same variables the tests and the bench scrub: standins/environment.py).
while read -r name; do unset "$name"; done < <(standins scrubbed-names)
export HOME="$WORK/home"
export XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache" XDG_DATA_HOME="$HOME/.local/share"
export XDG_RUNTIME_DIR="$WORK/run"
export DOCKER_CONFIG="$HOME/.docker"
export DOCKER_HOST="unix://$WORK/no-docker-daemon.sock"  # no daemon, and never the user's
export DOCKER_CLI_HINTS=false
export AWS_CONFIG_FILE="$HOME/.aws/config" AWS_SHARED_CREDENTIALS_FILE="$HOME/.aws/credentials"
export AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=us-east-1
export PATH="$BIN:$PATH"
mkdir -p "$HOME/.aws" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
: >"$AWS_CONFIG_FILE"; : >"$AWS_SHARED_CREDENTIALS_FILE"

# Print a `get` reply with its secret masked (the demo never shows a secret).
masked() {
  "$BIN/python" -c '
import json, sys
reply = json.load(sys.stdin)
secret = reply.get("Secret", "")
reply["Secret"] = f"<{len(secret)} characters, not shown>"
print(json.dumps(reply))'
}

step "Start local stand-ins in $WORK"
show "python -m standins serve \$WORK/standins"
# Started directly, not through the function: `&` would run the function in a subshell whose
# pid is all `$!` names, and stopping that subshell would leave python and its services running.
PYTHONPATH="$ROOT" "$BIN/python" -m standins serve "$WORK/standins" >"$WORK/standins.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 600); do
  [[ -f $WORK/standins/standins.env ]] && break
  kill -0 "${PIDS[-1]}" 2>/dev/null || break
  sleep 0.1
done
[[ -f $WORK/standins/standins.env ]] || fail "the stand-ins did not start; see $WORK/standins.log"
# Where each listens, and the registry's generated password (a 0600 file of shell assignments).
# shellcheck disable=SC1091
source "$WORK/standins/standins.env"
export DBUS_SESSION_BUS_ADDRESS
ok "Secret Service: gnome-keyring on a private D-Bus session bus"
ok "private registry: docker-registry with htpasswd on $REGISTRY (user $REGISTRY_USER)"
export AWS_ENDPOINT_URL_ECR=$MOTO_URL AWS_ENDPOINT_URL_STS=$MOTO_URL
ok "AWS emulator: moto_server on ${MOTO_URL#http://} (AWS_ENDPOINT_URL_ECR points there)"

step "Add the private registry: credentials are checked against its /v2/, then stored"
show "printf %s \"\$PASSWORD\" | docker-credential-convox registries add $REGISTRY --username $REGISTRY_USER --password-stdin"
printf %s "$REGISTRY_PASSWORD" \
  | docker-credential-convox registries add "$REGISTRY" --username "$REGISTRY_USER" --password-stdin \
  || fail "registries add $REGISTRY"
show "cat \$DOCKER_CONFIG/config.json"
cat "$DOCKER_CONFIG/config.json"
grep -q "$REGISTRY_PASSWORD" "$DOCKER_CONFIG/config.json" && fail "the password is in config.json"
ok "config.json routes $REGISTRY to the helper and holds no password"

step "A wrong password is refused, and nothing changes"
show "printf wrong | docker-credential-convox registries add $REGISTRY --username $REGISTRY_USER --password-stdin"
if printf wrong | docker-credential-convox registries add "$REGISTRY" --username "$REGISTRY_USER" \
     --password-stdin; then
  fail "a wrong password was accepted"
fi
ok "refused (exit 1)"

step "Push an image with skopeo: its credentials come from the helper"
run standins oci-layout "$WORK/image" "$IMAGE_TAG"
printf '{"default": [{"type": "insecureAcceptAnything"}]}' >"$WORK/policy.json"
run skopeo --policy "$WORK/policy.json" copy --quiet --dest-tls-verify=false \
  "oci:$WORK/image:$IMAGE_TAG" "docker://$REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG"
ok "pushed $REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG"

step "Inspect it through the helper with skopeo and with the Docker CLI"
run skopeo inspect --tls-verify=false --format '{{.Name}} {{.Digest}}' \
  "docker://$REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG"
run docker manifest inspect --insecure "$REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG"
ok "skopeo and docker authenticated with what the helper holds"

step "Add a cross-account ECR registry with an IAM user's access keys (checked by minting a token)"
show "printf %s \"\$SECRET_ACCESS_KEY\" | docker-credential-convox registries add $ECR_HOST --username $ECR_ACCESS_KEY_ID --password-stdin"
printf %s "$ECR_SECRET_ACCESS_KEY" \
  | docker-credential-convox registries add "$ECR_HOST" --username "$ECR_ACCESS_KEY_ID" --password-stdin \
  || fail "registries add $ECR_HOST"
ok "the secret access key is in the OS keyring; a token was minted from it"

step "docker pull from ECR asks the helper for credentials (then fails: there is no Docker daemon)"
show "DOCKER_CREDENTIAL_CONVOX_DEBUG=1 docker pull $ECR_HOST/convox/app:v1"
if DOCKER_CREDENTIAL_CONVOX_DEBUG=1 docker pull "$ECR_HOST/convox/app:v1" >"$WORK/pull.out" 2>&1; then
  fail "docker pull succeeded without a daemon?"
fi
cat "$WORK/pull.out"
grep -q "docker-credential-convox: debug:" "$WORK/pull.out" \
  || fail "docker pull did not run the helper"
grep -qi "daemon" "$WORK/pull.out" || fail "docker pull failed for another reason than the daemon"
ok "docker ran docker-credential-convox get (the debug lines above), then stopped at the daemon"
show "printf %s $ECR_HOST | docker-credential-convox get"
reply=$(printf %s "$ECR_HOST" | docker-credential-convox get) || fail "get $ECR_HOST"
printf %s "$reply" | masked
printf %s "$reply" | grep -q '"Username": "AWS"' || fail "get did not answer an ECR token"
ok "the helper answers with an ECR registry token"

step "List what the helper knows (never a secret)"
run docker-credential-convox registries list

step "When a pull gets no credentials, ask the doctor: one healthy registry, one broken"
run docker-credential-convox registries doctor "$ECR_HOST"
show "docker-credential-convox registries doctor $UNROUTED_ECR_HOST"
if docker-credential-convox registries doctor "$UNROUTED_ECR_HOST"; then
  fail "the doctor found nothing wrong with $UNROUTED_ECR_HOST"
fi
ok "exit 1: each problem on one line, with its fix"

step "Remove both registries"
run docker-credential-convox registries remove "$REGISTRY"
run docker-credential-convox registries remove "$ECR_HOST"
run docker-credential-convox registries list
show "cat \$DOCKER_CONFIG/config.json"
cat "$DOCKER_CONFIG/config.json"
show "docker manifest inspect --insecure $REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG"
if docker manifest inspect --insecure "$REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG" >/dev/null 2>"$WORK/denied"; then
  fail "the registry still let docker in"
fi
cat "$WORK/denied"
ok "credentials and routes are gone: docker is refused again"
