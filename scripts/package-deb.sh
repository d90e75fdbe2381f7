#!/usr/bin/env bash
# Builds ds01's Debian package, OUTDIR/ds01_<version>_<arch>.deb (OUTDIR: target/debian),
# from a staged tree with dpkg-deb: nothing beyond Debian's dpkg-dev is needed.
#
#   scripts/package-deb.sh [--bins-from DIR] [OUTDIR]
#
# Without --bins-from, release binaries are built (ds01d with NVML, as a GPU server needs
# it). With it, the `ds01` and `ds01d` already built in DIR are packaged: the package test
# takes the test suite's debug build rather than making a release build of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "package-deb: $*" >&2
  exit 1
}

bins=
while [ $# -gt 0 ]; do
  case "$1" in
    --bins-from) [ $# -ge 2 ] || die "--bins-from needs a directory"; bins=$2; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
out=${1:-target/debian}

command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps is missing (apt-get install dpkg-dev)"

version=$(awk '/^\[/ { table = $0 }
  table == "[workspace.package]" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' Cargo.toml)
[ -n "$version" ] || die "no version in [workspace.package] of Cargo.toml"
arch=$(dpkg --print-architecture)

if [ -z "$bins" ]; then
  cargo build --release --locked -p ds01-cli -p ds01-daemon --features ds01-daemon/nvml --bins
  bins=${CARGO_TARGET_DIR:-target}/release
fi
bins=$(cd "$bins" && pwd)
for bin in ds01 ds01d; do
  [ -x "$bins/$bin" ] || die "no $bin in $bins"
  # Binaries left from an older checkout would be packaged under the wrong version.
  built=$("$bins/$bin" --version)
  [ "$built" = "$bin $version" ] || die "$bins/$bin says \"$built\", Cargo.toml says $version"
done

# The unit must start the binary where the package puts it, with room for the users'
# connections (ds01d sizes its caps by its descriptor limit).
grep -q '^ExecStart=/usr/sbin/ds01d ' dist/systemd/ds01d.service ||
  die "dist/systemd/ds01d.service does not start /usr/sbin/ds01d"
grep -q '^LimitNOFILE=' dist/systemd/ds01d.service ||
  die "dist/systemd/ds01d.service sets no LimitNOFILE"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# dpkg-shlibdeps reads debian/control and expects the binaries under debian/<package>.
mkdir -p "$stage/debian"
printf 'Source: ds01\n\nPackage: ds01\nArchitecture: any\n' >"$stage/debian/control"
root=$stage/debian/ds01

install -D -m0755 "$bins/ds01" "$root/usr/bin/ds01"
install -D -m0755 "$bins/ds01d" "$root/usr/sbin/ds01d"
strip --strip-unneeded "$root/usr/bin/ds01" "$root/usr/sbin/ds01d"

install -D -m0644 -t "$root/lib/systemd/system" dist/systemd/ds01d.socket dist/systemd/ds01d-docker.socket dist/systemd/ds01d.service
install -D -m0644 dist/config.toml "$root/etc/ds01/config.toml"
# For the compute nodes of a cluster: oci.conf's RunTimeRun (README, "Cluster").
install -D -m0755 dist/slurm/ds01-oci-run "$root/usr/lib/ds01/ds01-oci-run"

doc=$root/usr/share/doc/ds01
# The unit's Documentation= points at architecture.md.
install -D -m0644 -t "$doc" dist/debian/copyright README.md docs/architecture.md

man=$root/usr/share/man/man1
mkdir -p "$man"
"$bins/ds01" man --dir "$man"
gzip -9n "$man"/*.1

# Called as plain `ds01`, the scripts call `ds01` back from PATH rather than the build
# directory's binary.
completions() { (exec -a ds01 "$bins/ds01" completions "$1") >"$2"; }
mkdir -p "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d"
completions bash "$root/usr/share/bash-completion/completions/ds01"
completions zsh "$root/usr/share/zsh/vendor-completions/_ds01"
completions fish "$root/usr/share/fish/vendor_completions.d/ds01.fish"
! grep -rqF "$bins" "$root/usr/share/bash-completion" "$root/usr/share/zsh" "$root/usr/share/fish" ||
  die "a completion script names the build directory $bins"

# Alert rules and dashboards, whichever exist yet.
for kind in prometheus grafana; do
  for file in dist/$kind/*; do
    [ -f "$file" ] || continue
    install -D -m0644 "$file" "$root/usr/share/ds01/$kind/${file##*/}"
  done
done

install -d "$root/DEBIAN"
install -m0755 -t "$root/DEBIAN" dist/debian/postinst dist/debian/prerm dist/debian/postrm
echo /etc/ds01/config.toml >"$root/DEBIAN/conffiles"
shlibs=$(cd "$stage" && dpkg-shlibdeps -O -edebian/ds01/usr/bin/ds01 -edebian/ds01/usr/sbin/ds01d)
shlibs=${shlibs#shlibs:Depends=}
cat >"$root/DEBIAN/control" <<EOF
Package: ds01
Version: $version
Architecture: $arch
Maintainer: ${DS01_DEB_MAINTAINER:-ds01 maintainers <ds01@example.invalid>}
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $shlibs, docker.io | docker-ce | moby-engine, iptables, init-system-helpers
Section: admin
Priority: optional
Description: per-user Docker containers on a shared GPU server
 ds01d is a root-owned service and the only door to the Docker engine: users
 reach it over a Unix socket with the ds01 command, are known by the kernel's
 peer credentials, and get containers and images that run as their own
 account, within the limits of the admin's policy (/etc/ds01/config.toml).
EOF

mkdir -p "$out"
deb=$out/ds01_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
