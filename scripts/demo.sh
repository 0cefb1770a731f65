#!/usr/bin/env bash
# The whole story of docker-credential-convox, end to end, against local stand-ins:
#   a private registry (Debian's docker-registry, htpasswd basic auth, on 127.0.0.1),
#   a private Secret Service (its own D-Bus session bus and gnome-keyring),
#   an AWS emulator for ECR and Secrets Manager (moto_server on 127.0.0.1),
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
# The fleet chapter: one shared scope in Secrets Manager, and a cache bound far shorter than the
# default 300 s so that the machines visibly follow a rotation and a removal within the demo.
SHARED_SCOPE=secretsmanager:docker-credential-convox/demo
SHARED_MAX_AGE=5
# AWS keys for the chapter (the emulator checks no signature): the operator's, which may write
# secrets, and the machines' own, standing for an instance role that may only read them.
OPERATOR_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
OPERATOR_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
MACHINE_ACCESS_KEY_ID=ASIAFLEETMACHINEEXAMPLE
MACHINE_SECRET_ACCESS_KEY=fleetMachineRoleSecretKeyEXAMPLEKEY

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
export AWS_ENDPOINT_URL_SECRETS_MANAGER=$MOTO_URL
ok "AWS emulator: moto_server on ${MOTO_URL#http://} (AWS_ENDPOINT_URL_ECR and _SECRETS_MANAGER point there)"

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
printf %s "$reply" | grep -q '"Username":"AWS"' || fail "get did not answer an ECR token"
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

# --- a fleet: one shared entry in Secrets Manager, machines without a keyring -----------------

# Run a command on fleet machine N: a HOME, Docker config and runtime directory of its own, the
# shared scope set, and no D-Bus (so no keyring). It never sees the registry's password.
machine() {
  local home="$WORK/machine-$1"
  shift
  env -u DBUS_SESSION_BUS_ADDRESS HOME="$home" DOCKER_CONFIG="$home/.docker" \
    XDG_CONFIG_HOME="$home/.config" XDG_CACHE_HOME="$home/.cache" \
    XDG_DATA_HOME="$home/.local/share" XDG_RUNTIME_DIR="$home/run" \
    AWS_ACCESS_KEY_ID="$MACHINE_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$MACHINE_SECRET_ACCESS_KEY" \
    DOCKER_CREDENTIAL_CONVOX_SHARED="$SHARED_SCOPE" \
    DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE="$SHARED_MAX_AGE" "$@"
}
# Machine N pulls the image (skopeo copies it into an OCI layout in its HOME); quiet when asked.
pull() {
  local n=$1 quiet=${2:-}
  local argv=(skopeo --policy "$WORK/policy.json" copy --quiet --src-tls-verify=false
              "docker://$REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG"
              "oci:$WORK/machine-$n/image:$IMAGE_TAG")
  if [[ -n $quiet ]]; then machine "$n" "${argv[@]}" >/dev/null 2>&1; return; fi
  show "machine $n: skopeo copy docker://$REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG oci:\$HOME/image:$IMAGE_TAG"
  machine "$n" "${argv[@]}" || fail "step $STEP: machine $n could not pull"
}
# Seconds since $1 (an EPOCHREALTIME value), with one decimal.
since() { "$BIN/python" -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.1f}")' "$1"; }
# Try `pull N quiet` on both machines, turn about, until each does what is wanted (`pulls` or
# `refused`); fail past the bound plus a few seconds for the processes themselves. Says when
# the first attempt that did so started, and how many before it still saw the old state ($3).
follow() {
  local want=$1 started=$2 before=$3 n at got deadline
  local -A since_change=() earlier=()
  deadline=$(("${started%.*}" + SHARED_MAX_AGE + 6))
  while ((${#since_change[@]} < 2)); do
    for n in 1 2; do
      [[ -n ${since_change[$n]:-} ]] && continue
      at=$(since "$started")
      if pull "$n" quiet; then got=pulls; else got=refused; fi
      if [[ $got == "$want" ]]; then since_change[$n]=$at
      else earlier[$n]=$((${earlier[$n]:-0} + 1)); fi
    done
    ((${#since_change[@]} == 2)) && break
    ((${EPOCHREALTIME%.*} < deadline)) || fail "the machines did not follow within the bound"
    sleep 0.5
  done
  for n in 1 2; do
    ok "machine $n $want from an attempt ${since_change[$n]} s after the change on;" \
       "${earlier[$n]:-0} attempt(s) before it $before (max age: ${SHARED_MAX_AGE} s)"
  done
}

step "A fleet: the operator shares the registry once, in AWS Secrets Manager"
export AWS_ACCESS_KEY_ID=$OPERATOR_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$OPERATOR_SECRET_ACCESS_KEY
export DOCKER_CREDENTIAL_CONVOX_SHARED=$SHARED_SCOPE
show "export AWS_ACCESS_KEY_ID=$OPERATOR_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=...   # the operator's, may write secrets"
show "export DOCKER_CREDENTIAL_CONVOX_SHARED=$SHARED_SCOPE"
show "printf %s \"\$PASSWORD\" | docker-credential-convox registries add $REGISTRY --shared --username $REGISTRY_USER --password-stdin"
printf %s "$REGISTRY_PASSWORD" \
  | docker-credential-convox registries add "$REGISTRY" --shared --username "$REGISTRY_USER" \
      --password-stdin \
  || fail "registries add $REGISTRY --shared"
run docker-credential-convox registries list
ok "one secret under ${SHARED_SCOPE#secretsmanager:}/, nothing in the operator's keyring"

step "Two fresh machines (no keyring, never given the password) pull through the shared entry"
for n in 1 2; do
  mkdir -p "$WORK/machine-$n/.docker" "$WORK/machine-$n/run"
  chmod 700 "$WORK/machine-$n/run"
  printf '{"credHelpers": {"%s": "convox"}}\n' "$REGISTRY" >"$WORK/machine-$n/.docker/config.json"
done
show "machine 1: cat \$DOCKER_CONFIG/config.json   # all a machine needs, with the setting"
cat "$WORK/machine-1/.docker/config.json"
printf '%s$ machine N: export DOCKER_CREDENTIAL_CONVOX_SHARED=%s DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE=%s%s\n' \
  "$DIM" "$SHARED_SCOPE" "$SHARED_MAX_AGE" "$RESET"
printf '%s(the demo caches shared values for %s s; the default is 300 s)%s\n' "$DIM" "$SHARED_MAX_AGE" "$RESET"
pull 1
pull 2
show "machine 1: printf %s $REGISTRY | docker-credential-convox get"
reply=$(printf %s "$REGISTRY" | machine 1 docker-credential-convox get) || fail "machine 1: get"
printf %s "$reply" | masked
grep -rqF -- "$REGISTRY_PASSWORD" "$WORK/machine-1/.docker" "$WORK/machine-1/.config" \
  "$WORK/machine-1/.cache" 2>/dev/null && fail "the password is on machine 1's disk"
ok "both machines pulled; the password is nowhere under their HOME (cached only in the runtime directory)"

step "The operator rotates the password; the machines follow within ${SHARED_MAX_AGE} s"
NEW_PASSWORD=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(16))')
show "(the registry's htpasswd gets a new password: the old one is refused from now on)"
printf %s "$NEW_PASSWORD" | standins registry-password "$WORK/standins" "$REGISTRY_USER" \
  || fail "rotating the registry's password"
show "printf %s \"\$NEW_PASSWORD\" | docker-credential-convox registries add $REGISTRY --shared --username $REGISTRY_USER --password-stdin"
printf %s "$NEW_PASSWORD" \
  | docker-credential-convox registries add "$REGISTRY" --shared --username "$REGISTRY_USER" \
      --password-stdin \
  || fail "registries add $REGISTRY --shared (rotation)"
rotated=$EPOCHREALTIME
follow pulls "$rotated" "were refused: the cached password was the old one"

step "The operator removes the shared entry; the machines are refused within ${SHARED_MAX_AGE} s"
run docker-credential-convox registries remove "$REGISTRY" --shared
removed=$EPOCHREALTIME
follow refused "$removed" "still got in: the cached value was still fresh"
show "machine 1: skopeo inspect --tls-verify=false docker://$REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG"
if machine 1 skopeo inspect --tls-verify=false "docker://$REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG" \
     >/dev/null 2>"$WORK/denied"; then
  fail "machine 1 still got in"
fi
cat "$WORK/denied"
show "machine 1: printf %s $REGISTRY | docker-credential-convox get"
machine 1 docker-credential-convox get <<<"$REGISTRY" && fail "machine 1 still gets credentials"
ok "the machines are refused: nothing shared is left for $REGISTRY"


# --- a Kubernetes node: kubelet asks the helper, as its image credential provider ---------------

# Run a command on the node: root's kubelet under systemd has no D-Bus, no keyring and no
# XDG_RUNTIME_DIR; the provider's caches live in its own runtime directory (a tmpfs on a node).
node() {
  env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR HOME="$WORK/node" \
    AWS_ACCESS_KEY_ID="$MACHINE_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$MACHINE_SECRET_ACCESS_KEY" \
    DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR="$WORK/node/run" "$@"
}
# kubelet (the stand-in) resolves credentials for an image; skopeo pulls with exactly those.
kubelet_pull() {
  local image=$1
  show "kubelet: credentials for $image (exec docker-credential-convox kubelet)"
  node env PYTHONPATH="$ROOT" "$BIN/python" -m standins kubelet \
    "$WORK/node/credential-provider.json" "$WORK/node/bin" "$image" --auth-file "$WORK/node/auth.json" \
    || fail "step $STEP: the kubelet stand-in failed"
}

step "A Kubernetes node: the operator shares the registry, kubelet pulls through the helper"
mkdir -p "$WORK/node/bin"
ln -s "$HELPER" "$WORK/node/bin/docker-credential-convox"
printf %s "$REGISTRY_PASSWORD" | standins registry-password "$WORK/standins" "$REGISTRY_USER" \
  || fail "restoring the registry's password"
printf %s "$REGISTRY_PASSWORD" \
  | docker-credential-convox registries add "$REGISTRY" --shared --username "$REGISTRY_USER" \
      --password-stdin >/dev/null \
  || fail "registries add $REGISTRY --shared"
ok "shared $REGISTRY in ${SHARED_SCOPE#secretsmanager:}/ again"
show "docker-credential-convox kubelet config --shared-registries   # the entry for kubelet's config"
node env DOCKER_CREDENTIAL_CONVOX_SHARED="$SHARED_SCOPE" DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE="$SHARED_MAX_AGE" \
  "$HELPER" kubelet config --shared-registries >"$WORK/node/provider.json" \
  || fail "kubelet config"
"$BIN/python" - "$WORK/node/provider.json" "$WORK/node/credential-provider.json" "$SHARED_MAX_AGE" <<'PY'
import json, sys
entry = json.load(open(sys.argv[1]))
entry["env"].append({"name": "DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE", "value": sys.argv[3]})
json.dump({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
           "providers": [entry]}, open(sys.argv[2], "w"), indent=2)
PY
"$BIN/python" -c 'import json,sys; e=json.load(open(sys.argv[1]))["providers"][0]; print(json.dumps({k: e[k] for k in ("name","args","env","defaultCacheDuration")})); print("matchImages:", len(e["matchImages"]), "patterns, the registry among them:", sys.argv[2] in e["matchImages"])' \
  "$WORK/node/credential-provider.json" "$REGISTRY"
kubelet_pull "$REGISTRY/$IMAGE_REPOSITORY"
run skopeo --policy "$WORK/policy.json" copy --quiet --src-tls-verify=false \
  --src-authfile "$WORK/node/auth.json" "docker://$REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG" \
  "oci:$WORK/node/image:$IMAGE_TAG"
ok "the node pulled from the shared registry: no pull secret, no keyring"

step "The same node pulls from ECR: a token minted with the node's own AWS credentials"
kubelet_pull "$ECR_HOST/$IMAGE_REPOSITORY"
grep -q "$ECR_HOST" "$WORK/node/auth.json" || fail "no ECR credentials for the node"
ok "an ECR token for $ECR_HOST, cached for half its life (kubelet's cacheDuration)"

step "The operator removes the shared entry; after the cache duration kubelet gets nothing"
run docker-credential-convox registries remove "$REGISTRY" --shared
show "sleep $((SHARED_MAX_AGE + 1))   # the provider answered with cacheDuration = the shared max age"
sleep $((SHARED_MAX_AGE + 1))
kubelet_pull "$REGISTRY/$IMAGE_REPOSITORY"
if skopeo --policy "$WORK/policy.json" inspect --tls-verify=false --authfile "$WORK/node/auth.json" \
     "docker://$REGISTRY/$IMAGE_REPOSITORY:$IMAGE_TAG" >/dev/null 2>"$WORK/denied"; then
  fail "the node still got in"
fi
cat "$WORK/denied"
ok "the node is refused: nothing is shared for $REGISTRY any more"
