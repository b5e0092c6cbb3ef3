#!/usr/bin/env bash
# Build and install pgvector for the PostgreSQL server running on this Debian machine.
#
# Debian bookworm has no pgvector package for PostgreSQL 15; trixie ships its source package (0.8.x),
# which builds cleanly against bookworm's postgresql-server-dev (Debian's patch drops -march=native, so
# the result is portable). Idempotent: does nothing when vector.control is already installed.
# Needs root (apt-get). About 20 s on a fresh machine.
set -euo pipefail

if ! command -v pg_config >/dev/null && ! ls /usr/lib/postgresql/*/bin/pg_config >/dev/null 2>&1; then
  echo "install-pgvector: no PostgreSQL server installed here; nothing to do" >&2
  exit 0
fi

# The running server's major version (else the newest installed).
major=""
if command -v psql >/dev/null; then
  major=$(psql -h 127.0.0.1 -U postgres -Atc "SHOW server_version_num" 2>/dev/null | cut -c1-2 || true)
fi
if [ -z "$major" ]; then
  major=$(ls /usr/lib/postgresql | sort -n | tail -1)
fi
pg_config="/usr/lib/postgresql/$major/bin/pg_config"
sharedir=$("$pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$major")

if [ -f "$sharedir/extension/vector.control" ]; then
  echo "install-pgvector: pgvector already installed for PostgreSQL $major"
  exit 0
fi

echo "install-pgvector: building pgvector for PostgreSQL $major from Debian's source package"
export DEBIAN_FRONTEND=noninteractive
src_list=/etc/apt/sources.list.d/pgvector-trixie-src.list
work=$(mktemp -d)
chmod 755 "$work"  # apt's sandbox user downloads into it
cleanup() {
  rm -f "$src_list"
  rm -rf "$work"
}
trap cleanup EXIT

echo "deb-src http://deb.debian.org/debian trixie main" > "$src_list"
apt-get update -qq >/dev/null

# The server-dev package at the running server's exact version, plus the build tools.
server_pkg_version=$(dpkg-query -W -f='${Version}' "postgresql-$major" 2>/dev/null || true)
dev_pkg="postgresql-server-dev-$major"
if [ -n "$server_pkg_version" ] && apt-cache madison "$dev_pkg" | grep -qF "$server_pkg_version"; then
  dev_pkg="$dev_pkg=$server_pkg_version"
fi
apt-get install -y -qq --no-install-recommends "$dev_pkg" build-essential dpkg-dev >/dev/null

cd "$work"
apt-get source -qq --download-only pgvector >/dev/null
dpkg-source -x --no-check ./*.dsc src >/dev/null
cd src
make -s PG_CONFIG="$pg_config" >/dev/null
make -s PG_CONFIG="$pg_config" install >/dev/null
echo "install-pgvector: installed $(grep default_version "$sharedir/extension/vector.control" | tr -d "' ")"
