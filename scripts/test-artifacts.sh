#!/usr/bin/env bash
# Install each built artifact the way a user does, then run the protocol tests against the
# installed executable (DCCX_HELPER) inside the loopback-only namespace, as `make test` does.
#
#   scripts/test-artifacts.sh [deb] [wheel] [pipx] [zipapp]     (default: all four)
#
# - deb:    `apt-get install ./dist/deb/docker-credential-convox_*_all.deb` on this machine (root),
#           so /usr/bin/docker-credential-convox runs on Debian's python3 with Debian's boto3,
#           keyring and cachetools; purged again afterwards (KEEP_INSTALLED=1 keeps it).
# - wheel:  `pip install dist/*.whl` into a fresh venv (dependencies from the index): every
#           route's conformance suite, the clients, `registries`, `kubelet` (see wheel_files).
# - pipx:   `pipx install .` from the checkout, with PIPX_HOME and PIPX_BIN_DIR in a temp dir:
#           the protocol and the clients.
# - zipapp: the .pyz copied onto a PATH directory as `docker-credential-convox`, with a bare venv
#           (no packages at all) as the `python3` it finds, so only what the file carries is
#           there. The whole suite runs on that python3 with one unpack directory for all its
#           tests (DCCX_ZIPAPP_CACHE_DIR); the first run (unpacking, byte-compiling) has tests of
#           its own, each with a fresh HOME: the trust and cache-directory tests and a smoke
#           subset on that python3, the smoke subset again on every other CPython 3.9+ this
#           machine has (pyenv's, /usr/bin's).
# The .deb and the single file run every test file (their libraries differ from the dev venv's:
# Debian's, and those resolved for CPython 3.9); `make test` runs them all on the dev venv, whose
# launcher and libraries are the wheel's and pipx's.
# Installs (network) happen before the tests; the tests reach nothing but 127.0.0.1.
# The single file's runs go on in the background beside the others' (each run has its own
# network namespace, Secret Service and temporary directories, and one run keeps about one core
# busy: two use both of CI's); their output follows the others'. ARTIFACT_LANES=1 runs all in turn.
# Every artifact is tried even if one fails; the summary at the end says which passed.
#
# ARTIFACT_TESTS overrides the test files (of every artifact), ARTIFACT_DESELECT the -k
# expression of tests that run the venv's own package (sys.executable) rather than the
# executable under test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The test files that drive the installed executable (as clients do) rather than import it.
read -r -a test_files <<<"${ARTIFACT_TESTS:-tests/test_conformance.py \
tests/test_conformance_keyring.py tests/test_conformance_ecr.py tests/test_keyring_store.py \
tests/test_clients.py tests/test_ecr.py tests/test_ecr_concurrency.py tests/test_ecr_clients.py \
tests/test_registries.py tests/test_registries_clients.py tests/test_registries_tty.py \
tests/test_faults_edges.py tests/test_conformance_shared.py tests/test_shared.py \
tests/test_output_failures.py tests/test_error_text.py tests/test_shared_documents.py \
tests/test_shared_depth.py tests/test_kubelet.py tests/test_kubelet_aws_cases.py tests/test_trust.py \
tests/test_conformance_pass.py tests/test_pass_store.py}"
deselect=${ARTIFACT_DESELECT:-not killed_between and not interrupted_store and not loads_no_keyring \
and not hung_gpg_agent and not overtaken and not killed_before_its_index and not slow_disk}
# The wheel and pipx installs run packaging/launchers' script as pip installs it, as the dev venv
# of `make test` does, on the newest libraries from the index, as the dev venv has them; what is
# theirs alone is what the install puts in place, and the wheel's files are the single file's,
# which runs every test file. So the wheel runs every route once end to end (each route's
# conformance suite loads its modules), the real clients, `registries` and `kubelet`; pipx, the
# same launcher from a build of the checkout, the protocol and the clients.
if [[ -n ${ARTIFACT_TESTS:-} ]]; then
  wheel_files=("${test_files[@]}") pipx_files=("${test_files[@]}")
else
  wheel_files=(tests/test_conformance.py tests/test_conformance_keyring.py
    tests/test_conformance_ecr.py tests/test_conformance_shared.py tests/test_conformance_pass.py
    tests/test_clients.py tests/test_registries.py tests/test_kubelet.py)
  pipx_files=(tests/test_conformance.py tests/test_clients.py)
fi
# The single file's first run (unpacking, byte-compiling) in a fresh HOME for every test: the
# round trip, and twelve concurrent first runs (each unpacks), on every interpreter.
smoke=(tests/test_conformance.py tests/test_conformance_keyring.py tests/test_keyring_store.py
       -k "(store_then_get or erase_forgets or list_maps or version_forms or concurrent_stores) and not slow_disk")
# Tests of what the single file does with the directory it unpacks into (whose owner and mode
# they set): they run with a HOME of their own each, never with the shared unpack directory.
first_run_files=(tests/test_trust.py tests/test_faults_edges.py)
pytest=$root/.venv/bin/pytest
[[ -x $pytest ]] || { echo "test-artifacts.sh: no $pytest: run make venv" >&2; exit 1; }

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' docker_credential_convox/__init__.py)
deb_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
deb=dist/deb/docker-credential-convox_${deb_version}_all.deb
wheel=dist/docker_credential_convox-$version-py3-none-any.whl
zipapp=dist/docker-credential-convox-$version-linux-$(uname -m).pyz

artifacts=("$@")
((${#artifacts[@]})) || artifacts=(deb wheel pipx zipapp)

sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive

work=$(mktemp -d "${TMPDIR:-/tmp}/dccx-artifacts.XXXXXX")
deb_installed=0
background=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [[ -n $background ]] && kill -0 "$background" 2>/dev/null; then
    kill -- "-$background" 2>/dev/null || true  # the background lane's process group
    wait "$background" 2>/dev/null || true
  fi
  if [[ $deb_installed == 1 && ${KEEP_INSTALLED:-} != 1 ]]; then
    "${sudo[@]}" apt-get purge -y -qq docker-credential-convox >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# One line per step, in a file: the background lane records there too.
results=$work/results
: >"$results"
record() {  # record NAME STATUS SECONDS
  printf '%-36s %-6s %4ss\n' "$1" "$2" "$3" >>"$results"
}

# run_tests NAME HELPER [PATH_PREFIX] -- PYTEST_ARGS...: the suite against one installed executable.
run_tests() {
  local name=$1 helper=$2 path_prefix=$3
  shift 4
  local start=$SECONDS status=passed
  echo "=== $name: $helper" >&2
  if ! DCCX_HELPER=$helper PATH="$path_prefix${path_prefix:+:}$PATH" \
    scripts/isolated.sh "$pytest" -q -p no:cacheprovider "$@"; then
    status=FAILED
  fi
  record "$name" "$status" $((SECONDS - start))
}

need() {
  [[ -f $1 ]] && return 0
  echo "test-artifacts.sh: $1 is missing: build it first (make $2)" >&2
  record "$2" MISSING 0
  return 1
}

test_deb() {
  need "$deb" deb || return 0
  local start=$SECONDS
  if dpkg-query -W -f='${Status}' docker-credential-convox 2>/dev/null | grep -q "ok installed"; then
    "${sudo[@]}" apt-get purge -y -qq docker-credential-convox >/dev/null
  fi
  deb_installed=1
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "./$deb" >"$work/apt.log" 2>&1; then
    cat "$work/apt.log" >&2
    record "deb: apt-get install" FAILED $((SECONDS - start))
    return 0
  fi
  local helper=/usr/bin/docker-credential-convox
  if [[ $(command -v docker-credential-convox) != "$helper" || $(head -n 1 "$helper") != "#!/usr/bin/python3 -S" ]]; then
    echo "test-artifacts.sh: the .deb did not install $helper running on /usr/bin/python3" >&2
    record "deb: apt-get install" FAILED $((SECONDS - start))
    return 0
  fi
  record "deb: apt-get install" passed $((SECONDS - start))
  run_tests "deb: tests" "$helper" "" -- "${test_files[@]}" -k "$deselect"
  if [[ ${KEEP_INSTALLED:-} != 1 ]]; then
    start=$SECONDS
    "${sudo[@]}" apt-get purge -y -qq docker-credential-convox >/dev/null
    deb_installed=0
    if [[ -e $helper || -e /usr/lib/python3/dist-packages/docker_credential_convox ]]; then
      echo "test-artifacts.sh: apt-get purge left files behind" >&2
      record "deb: apt-get purge" FAILED $((SECONDS - start))
    else
      record "deb: apt-get purge" passed $((SECONDS - start))
    fi
  fi
}

test_wheel() {
  need "$wheel" dist || return 0
  local start=$SECONDS venv=$work/wheel-venv
  if ! { python3 -m venv "$venv" && "$venv/bin/python" -m pip install -q "$wheel"; } \
    >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    record "wheel: pip install" FAILED $((SECONDS - start))
    return 0
  fi
  record "wheel: pip install" passed $((SECONDS - start))
  run_tests "wheel: tests" "$venv/bin/docker-credential-convox" "" -- \
    "${wheel_files[@]}" -k "$deselect"
}

# `pipx install .` from the checkout, as the README offers: its own venv, the command linked into
# PIPX_BIN_DIR. pipx itself comes from PyPI into the dev venv, not onto the machine.
test_pipx() {
  local start=$SECONDS home=$work/pipx
  if ! { "$root/.venv/bin/python" -m pip install -q pipx &&
    PIPX_HOME=$home PIPX_BIN_DIR=$home/bin "$root/.venv/bin/python" -m pipx install "$root"; } \
    >"$work/pipx.log" 2>&1; then
    cat "$work/pipx.log" >&2
    record "pipx: pipx install ." FAILED $((SECONDS - start))
    return 0
  fi
  record "pipx: pipx install ." passed $((SECONDS - start))
  run_tests "pipx: tests" "$home/bin/docker-credential-convox" "" -- \
    "${pipx_files[@]}" -k "$deselect"
}

# Every CPython >= 3.9 on this machine, one per minor version, the default python3 first.
interpreters() {
  local seen=" " candidate minor
  for candidate in "$(command -v python3)" /usr/bin/python3.* \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin/python3.[0-9]*; do
    [[ -x $candidate && $candidate != *-config ]] || continue
    minor=$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2]) if sys.version_info >= (3, 9) else None' 2>/dev/null) || continue
    [[ -n $minor && $seen != *" $minor "* ]] || continue
    seen+="$minor "
    echo "$candidate"
  done
}

# The files of test_files not in first_run_files.
shared_unpack_files() {
  local file
  for file in "${test_files[@]}"; do
    [[ " ${first_run_files[*]} " == *" $file "* ]] || echo "$file"
  done
}

test_zipapp() {
  need "$zipapp" zipapp || return 0
  local bin=$work/zipapp-bin unpacked=$work/zipapp-cache first=1 python minor bare files file
  local -a first_runs=()
  mkdir -p "$bin"
  install -m 0755 "$zipapp" "$bin/docker-credential-convox"
  mapfile -t files < <(shared_unpack_files)
  for file in "${first_run_files[@]}"; do
    [[ " ${test_files[*]} " != *" $file "* ]] || first_runs+=("$file")
  done
  while IFS= read -r python; do
    minor=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    bare=$work/bare-$minor
    "$python" -m venv --without-pip "$bare"
    if ((first)); then
      if ((${#files[@]})); then
        DCCX_ZIPAPP_CACHE_DIR=$unpacked run_tests "zipapp on python $minor: tests" \
          "$bin/docker-credential-convox" "$bare/bin" -- "${files[@]}" -k "$deselect"
        # The tests above ran on the one unpacked copy, or they timed nothing this file saves.
        if ! compgen -G "$unpacked/zipapp/*/.compiled-*" >/dev/null; then
          echo "test-artifacts.sh: nothing was unpacked into $unpacked" >&2
          record "zipapp: one unpack directory" FAILED 0
        fi
      fi
      if ((${#first_runs[@]})); then
        run_tests "zipapp on python $minor: first runs" "$bin/docker-credential-convox" \
          "$bare/bin" -- "${first_runs[@]}" -k "$deselect"
      fi
      run_tests "zipapp on python $minor: smoke" "$bin/docker-credential-convox" \
        "$bare/bin" -- "${smoke[@]}"
      first=0
    else
      run_tests "zipapp on python $minor: smoke" "$bin/docker-credential-convox" \
        "$bare/bin" -- "${smoke[@]}"
    fi
  done < <(interpreters)
}

others=()
single_file=0
for artifact in "${artifacts[@]}"; do
  case $artifact in
    deb | wheel | pipx) others+=("$artifact") ;;
    zipapp) single_file=1 ;;
    *) echo "test-artifacts.sh: unknown artifact $artifact (deb, wheel, pipx, zipapp)" >&2; exit 2 ;;
  esac
done

if ((single_file)) && ((${#others[@]})) && [[ ${ARTIFACT_LANES:-2} != 1 ]]; then
  echo "=== zipapp: in the background (its output follows the others')" >&2
  set -m  # a process group of its own, which cleanup can stop whole
  test_zipapp >"$work/zipapp.log" 2>&1 &
  background=$!
  set +m
  single_file=0
fi
for artifact in "${others[@]}"; do
  "test_$artifact"
done
((single_file)) && test_zipapp
if [[ -n $background ]]; then
  wait "$background" || record "zipapp: the background lane" FAILED 0
  background=""
  echo "=== zipapp (ran in the background)" >&2
  cat "$work/zipapp.log" >&2
fi

echo "=== artifacts"
cat "$results"
if grep -qv ' passed ' "$results"; then
  exit 1
fi
