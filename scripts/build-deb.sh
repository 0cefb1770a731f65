#!/usr/bin/env bash
# Build the Debian package with Debian's own tooling (dpkg-buildpackage, debhelper, pybuild) from
# a copy of the tree, so the work tree stays clean, then check it with lintian.
#
# Outputs, in dist/deb/: docker-credential-convox_VERSION-REV_all.deb, the source package
# (.dsc, .orig.tar.gz, .debian.tar.xz), .buildinfo, .changes, build.log and lintian.txt.
# Fails on a lintian error; warnings are printed (packaging/README.md explains the ones left).
# DEB_BUILD_OPTIONS=nocheck skips the build-time import check. Needs root (or sudo) only to
# install missing build dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/dist/deb
package=docker-credential-convox

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' docker_credential_convox/__init__.py)
deb_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
if [[ -z $version || ${deb_version%-*} != "$version" ]]; then
  echo "build-deb.sh: packaging/debian/changelog is at $deb_version but the package is" \
    "version ${version:-?}; add an entry first, e.g." >&2
  echo "  dch --changelog packaging/debian/changelog -v $version-1 'New upstream release.'" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dccx-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/$package-$version
mkdir "$src"

# The upstream source: what git tracks plus new files not ignored (so an uncommitted module is
# packaged too), never .venv, dist/ or caches.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' file; do [[ -e $file ]] && printf '%s\0' "$file"; done \
    | tar --null -T - -cf - | tar -C "$src" -xf -
else
  tar --exclude=./.git --exclude=./.venv --exclude=./dist --exclude=./build \
    --exclude='*.egg-info' --exclude='__pycache__' --exclude='./.*_cache' --exclude=./.hypothesis \
    -cf - . | tar -C "$src" -xf -
fi
rm -rf "$src/debian"

# The orig tarball is the upstream tree as copied, packed reproducibly.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(dpkg-parsechangelog -l packaging/debian/changelog -S Timestamp)}
tar -C "$work" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  -czf "$work/${package}_$version.orig.tar.gz" "$package-$version"
cp -r packaging/debian "$src/debian"

if ! (cd "$src" && dpkg-checkbuilddeps) 2>/dev/null; then
  sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  echo "build-deb.sh: installing the build dependencies of packaging/debian/control" >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get build-dep -y -qq --no-install-recommends \
    "$src" >/dev/null
fi

rm -rf "$out"
mkdir -p "$out"
# Debian's python3 and tools only, as on a build daemon: no pyenv shims, venv or PYTHONPATH.
clean_env=(env -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV -u PYENV_VERSION
           PATH=/usr/sbin:/usr/bin:/sbin:/bin)
echo "build-deb.sh: dpkg-buildpackage in $src (log: dist/deb/build.log)" >&2
if ! (cd "$src" && "${clean_env[@]}" dpkg-buildpackage -us -uc --build=full) \
  >"$out/build.log" 2>&1; then
  tail -n 60 "$out/build.log" >&2
  echo "build-deb.sh: dpkg-buildpackage failed; the whole log is dist/deb/build.log" >&2
  exit 1
fi
find "$work" -maxdepth 1 -type f -name "${package}_*" -exec cp {} "$out/" \;

changes=$(find "$out" -maxdepth 1 -name "${package}_${deb_version}_*.changes" | head -n 1)
deb=$(find "$out" -maxdepth 1 -name "${package}_${deb_version}_all.deb" | head -n 1)
[[ -n $changes && -n $deb ]] || { echo "build-deb.sh: no .deb or .changes was produced" >&2; exit 1; }

# Every tag, pedantic and informational ones included, goes to lintian.txt; errors fail the build.
status=0
"${clean_env[@]}" lintian --info --display-info --pedantic --tag-display-limit 0 --fail-on error "$changes" \
  >"$out/lintian.txt" 2>&1 || status=$?
tags=$(grep -E '^[EWIPX]: ' "$out/lintian.txt" || true)
echo "build-deb.sh: lintian (explanations in dist/deb/lintian.txt):${tags:+$'\n'}${tags:- no tags}" \
  | sed '2,$s/^/  /' >&2
if ((status != 0)); then
  echo "build-deb.sh: lintian found errors (exit $status)" >&2
  exit 1
fi
echo "${deb#"$root"/}"
