#!/bin/sh
# Builds Larder's Debian package: scripts/package-deb.sh [--binary PATH] [--out DIR]
#
# Without --binary, a release build with the Swift runtime linked in statically, so the
# package runs on a Debian machine without Swift. The package holds the server, its systemd
# unit (packaging/larder.service) and /etc/larder/larder.conf (packaging/larder.conf); it
# creates the `larder` user and its directories, and removes them when purged.
set -eu
cd "$(dirname "$0")/.."
binary=""
out="."
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "usage: $0 [--binary PATH] [--out DIR]" >&2; exit 2 ;;
    esac
done
if [ -z "$binary" ]; then
    swift build -c release --product larder-server --static-swift-stdlib -Xswiftc -enforce-exclusivity=unchecked
    binary=.build/release/larder-server
fi
version=$(sed -n 's/.*static let larder = "\(.*\)".*/\1/p' Sources/Engine/Version.swift)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT

install -D -m 755 "$binary" "$stage/usr/bin/larder-server"
install -D -m 644 packaging/larder.service "$stage/lib/systemd/system/larder.service"
install -D -m 640 packaging/larder.conf "$stage/etc/larder/larder.conf"
install -D -m 644 README.md "$stage/usr/share/doc/larder/README.md"

# Depends: lua-bitop (opened with dlopen, as Lua's require would), and the Debian packages
# that hold the shared libraries the binary loads (a library outside any package, such as a
# Swift toolchain's in a debug build, is not a dependency).
depends=$(ldd "$binary" | awk '/=> \// { print $3 }' | while read -r lib; do
    dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
done | cut -d: -f1 | sort -u | paste -sd, - | sed 's/,/, /g')

mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: larder
Version: $version
Architecture: $arch
Maintainer: Larder developers <larder@localhost>
Depends: adduser, lua-bitop${depends:+, $depends}
Section: database
Priority: optional
Description: Redis-compatible key-value server written in Swift
 Larder speaks the Redis protocol and memcached's, reads Redis's configuration, RDB and
 AOF files, and can take the place of redis-server without changing applications.
CONTROL
echo /etc/larder/larder.conf > "$stage/DEBIAN/conffiles"

cat > "$stage/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent passwd larder >/dev/null; then
        adduser --system --group --home /var/lib/larder --no-create-home --quiet larder
    fi
    for d in /var/lib/larder /var/log/larder; do
        install -d -o larder -g larder -m 750 "$d"
    done
    chown larder:larder /etc/larder/larder.conf
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable --now larder.service || true
    fi
fi
SCRIPT
cat > "$stage/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl disable --now larder.service || true
fi
SCRIPT
cat > "$stage/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
    rm -rf /var/lib/larder /var/log/larder /etc/larder
    if getent passwd larder >/dev/null; then
        deluser --system --quiet larder || true
    fi
    if getent group larder >/dev/null; then
        delgroup --system --quiet larder || true
    fi
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
SCRIPT
chmod 755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

mkdir -p "$out"
package="$out/larder_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$package" >/dev/null
echo "$package"
