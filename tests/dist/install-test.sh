#!/usr/bin/env bash
# Installs each artifact of dist/ the way a user would, in a clean environment — PATH without
# cargo or rustc, a fresh HOME — and runs the quickstarts (docs/distribution.md):
#   Python: the wheel into a fresh venv; Node: the two npm tarballs into a fresh project (require
#   and import); C: the tarball unpacked into a prefix, the quickstart built with pkg-config, shared
#   and static. Also checks the versions, the SONAME, the exported symbols and the sizes.
# Usage: tests/dist/install-test.sh <dist dir> <version>
set -euo pipefail
DIST=$(cd "$1" && pwd)
VERSION=$2
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home"

# The real interpreter (pyenv and similar put shims on PATH); node and npm live in /usr/bin.
PY=$(python3 -c 'import sys; print(sys.executable)')
CLEAN_PATH="$(dirname "$PY"):/usr/local/bin:/usr/bin:/bin"
clean() { env -i HOME="$WORK/home" PATH="$CLEAN_PATH" LANG=C.UTF-8 TMPDIR="$WORK" "$@"; }
fail() { echo "dist-test: $*" >&2; exit 1; }

clean sh -c 'command -v cargo || command -v rustc' >/dev/null && fail "a Rust toolchain is reachable in the clean environment"
C_DIST="libaccounts-$VERSION-x86_64-linux-gnu"
WHEEL=$(ls "$DIST"/accounts_rs-"$VERSION"-cp39-abi3-*manylinux_2_17_x86_64*.whl)
for artifact in "$WHEEL" "$DIST/accounts_rs-$VERSION.tar.gz" "$DIST/accounts-rs-$VERSION.tgz" \
    "$DIST/accounts-rs-linux-x64-gnu-$VERSION.tgz" "$DIST/$C_DIST.tar.gz"; do
  [ -f "$artifact" ] || fail "missing $artifact"
  size=$(stat -c %s "$artifact")
  echo "dist-test: $(basename "$artifact") $((size / 1024)) KiB"
  # 12 MiB: the C tarball carries the library twice (.so and .a); passkeys (webauthn_rp, p384, precis)
  # took it from 7.9 to 10.3 MiB (docs/distribution.md).
  [ "$size" -lt $((12 * 1024 * 1024)) ] || fail "$(basename "$artifact") is over 12 MiB"
done
SDIST_FILES=$(tar -tzf "$DIST/accounts_rs-$VERSION.tar.gz")
grep -q '/core/src/lib.rs$' <<<"$SDIST_FILES" || fail "the sdist lacks the core sources"

echo "== Python: the wheel into a fresh venv"
clean "$PY" -m venv "$WORK/venv"
clean "$WORK/venv/bin/pip" install -q --no-index "$WHEEL"
clean "$WORK/venv/bin/python" - "$VERSION" <<'PYEOF'
import importlib.resources, sys
import accounts
assert accounts.__version__ == sys.argv[1], accounts.__version__
files = importlib.resources.files("accounts")
assert files.joinpath("py.typed").is_file() and files.joinpath("_native.pyi").is_file(), "stubs missing"
PYEOF
clean "$WORK/venv/bin/python" "$REPO/examples/python/quickstart.py" "$WORK/py.db"

echo "== Node: the two tarballs into a fresh project"
mkdir -p "$WORK/app"
echo '{"name": "user-app", "version": "1.0.0", "private": true}' > "$WORK/app/package.json"
(cd "$WORK/app" && clean npm install --no-audit --no-fund --foreground-scripts \
  "$DIST/accounts-rs-linux-x64-gnu-$VERSION.tgz" "$DIST/accounts-rs-$VERSION.tgz")
[ -f "$WORK/app/node_modules/accounts-rs-linux-x64-gnu/accounts.linux-x64-gnu.node" ] || fail "the prebuilt addon is not installed"
[ ! -e "$WORK/app/node_modules/accounts-rs/accounts.node" ] || fail "the install built the addon instead of using the prebuilt one"
sed "s|'../../bindings/node'|'accounts-rs'|" "$REPO/examples/node/quickstart.cjs" > "$WORK/app/quickstart.cjs"
sed "s|'../../bindings/node/index.mjs'|'accounts-rs'|" "$REPO/examples/node/quickstart.mjs" > "$WORK/app/quickstart.mjs"
(cd "$WORK/app" && clean node quickstart.cjs "$WORK/node-cjs.db" && clean node quickstart.mjs "$WORK/node-esm.db")
(cd "$WORK/app" && clean node -e "process.exit(require('accounts-rs').version === '$VERSION' ? 0 : 1)") || fail "Node version"

echo "== C: the tarball into a prefix, the quickstart with pkg-config"
mkdir -p "$WORK/prefix"
tar -xzf "$DIST/$C_DIST.tar.gz" -C "$WORK/prefix"
export PKG_CONFIG_PATH="$WORK/prefix/$C_DIST/lib/pkgconfig"
[ "$(clean env PKG_CONFIG_PATH="$PKG_CONFIG_PATH" pkg-config --modversion accounts)" = "$VERSION" ] || fail "pkg-config version"
LIBDIR=$(clean env PKG_CONFIG_PATH="$PKG_CONFIG_PATH" pkg-config --variable=libdir accounts)
SO=$(readlink -f "$LIBDIR/libaccounts.so")
DYNAMIC=$(readelf -d "$SO")
grep -q "SONAME.*\[libaccounts\.so\.$(echo "$VERSION" | awk -F. '{ print ($1 == "0") ? "0." $2 : $1 }')\]" <<<"$DYNAMIC" || fail "SONAME"
others=$(nm -D --defined-only "$SO" | awk '{print $3}' | grep -v '^accounts_' || true)
[ -z "$others" ] || fail "symbols other than accounts_* exported: $others"
CFLAGS=$(clean env PKG_CONFIG_PATH="$PKG_CONFIG_PATH" pkg-config --cflags accounts)
LIBS=$(clean env PKG_CONFIG_PATH="$PKG_CONFIG_PATH" pkg-config --libs accounts)
clean gcc -std=c11 -Wall -Werror $CFLAGS "$REPO/examples/c/quickstart.c" $LIBS -Wl,-rpath,"$LIBDIR" -o "$WORK/quickstart"
clean "$WORK/quickstart" "$WORK/c.db" | tee "$WORK/c.out"
grep -q "$VERSION" "$WORK/c.out" || fail "accounts_version() does not say $VERSION"
STATIC_LIBS=$(clean env PKG_CONFIG_PATH="$PKG_CONFIG_PATH" pkg-config --libs-only-l --static accounts | sed 's/-laccounts//')
clean gcc -std=c11 -Wall -Werror $CFLAGS "$REPO/examples/c/quickstart.c" "$LIBDIR/libaccounts.a" $STATIC_LIBS -o "$WORK/quickstart-static"
clean "$WORK/quickstart-static" "$WORK/c-static.db" >/dev/null
echo "dist-test: every artifact installed and ran without a Rust toolchain"
