#!/usr/bin/env bash
# `make dist`: the C release tarball <stage>/<name>.tar.gz from a release build (docs/distribution.md).
#   lib/libaccounts.so.<version>, its SONAME link and libaccounts.so; include/accounts.h;
#   lib/pkgconfig/accounts.pc (relocatable); README.md; and lib/libaccounts.a as ONE prelinked
#   object: `ld -r --gc-sections` rooted at the accounts_* functions keeps only the code they reach,
#   and every other global (std, SQLite, ...) is made local, so the static library is a third of
#   the size and never clashes with the application's own SQLite or Rust code.
# Usage: ffi/pack-tarball.sh <release dir> <stage dir> <out dir> <version> <soname>
set -euo pipefail
RELEASE=$1 STAGE=$2 OUT=$3 VERSION=$4 SONAME=$5
REPO=$(cd "$(dirname "$0")/.." && pwd)
NAME="libaccounts-$VERSION-x86_64-linux-gnu"
D="$STAGE/$NAME"
rm -rf "$D" && mkdir -p "$D/lib/pkgconfig" "$D/include"

install -m 755 "$RELEASE/libaccounts.so" "$D/lib/libaccounts.so.$VERSION"
strip --strip-unneeded "$D/lib/libaccounts.so.$VERSION"
ln -s "libaccounts.so.$VERSION" "$D/lib/$SONAME"
ln -s "$SONAME" "$D/lib/libaccounts.so"

nm -g --defined-only "$RELEASE/libaccounts.a" 2>/dev/null | awk '$2 == "T" && $3 ~ /^accounts_/ { print $3 }' | sort -u > "$STAGE/exports.txt"
[ -s "$STAGE/exports.txt" ] || { echo "pack-tarball: no accounts_* functions in $RELEASE/libaccounts.a" >&2; exit 1; }
# shellcheck disable=SC2046 # one -u per exported function
ld -r --whole-archive "$RELEASE/libaccounts.a" --gc-sections $(sed 's/^/-u /' "$STAGE/exports.txt") -o "$STAGE/accounts.o"
objcopy --remove-section=.llvmbc --remove-section=.llvmcmd --keep-global-symbols="$STAGE/exports.txt" "$STAGE/accounts.o"
strip --strip-unneeded "$STAGE/accounts.o"
rm -f "$D/lib/libaccounts.a" && ar rcs "$D/lib/libaccounts.a" "$STAGE/accounts.o"

install -m 644 "$REPO/include/accounts.h" "$D/include/"
# shellcheck disable=SC2016 # ${pcfiledir} is pkg-config's, not the shell's
sed -e 's|@PREFIX@|${pcfiledir}/../..|' -e "s|@VERSION@|$VERSION|" "$REPO/ffi/accounts.pc.in" > "$D/lib/pkgconfig/accounts.pc"
sed -e "s|@VERSION@|$VERSION|g" -e "s|@SONAME@|$SONAME|g" "$REPO/ffi/tarball-README.md" > "$D/README.md"
tar -C "$STAGE" -czf "$OUT/$NAME.tar.gz" "$NAME"
echo "packed $OUT/$NAME.tar.gz"
