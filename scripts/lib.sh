# shellcheck shell=bash
# Shared by scripts/run, scripts/test and scripts/bench: install what is
# missing, build, and manage the embedded PostgreSQL cluster.
#
# The embedded cluster lives in $ENTITLEMENTD_HOME/pg (data/, run/ for the
# socket, log). It listens on a Unix socket only, so copies with different
# homes never collide. PostgreSQL refuses to run as root: when we are root
# it runs as the unprivileged system user "postgres".

ENT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENT_PACKAGES=(build-essential cmake pkg-config gsoap libgsoap-dev libpq-dev libxml2-dev
  libxml2-utils libcunit1-dev libjansson-dev libssl-dev libcrypt-dev
  postgresql postgresql-contrib python3-zeep python3-suds python3-lxml python3-jsonschema python3-cryptography python3-yaml curl
  openssl valgrind clang libclang-rt-14-dev clang-tools-14 systemd
  libcurl4-openssl-dev haproxy)

ent_log() { printf '==> %s\n' "$*" >&2; }
ent_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The demo catalog scripts/run loads (and the README's examples use), with
# the entitlementctl at $1. Idempotent.
ent_demo_catalog() {
  local ctl=$1 p
  for p in "Designer:1.0" "Designer:2.0" "Designer Pro:2.0" "Analyzer:1.0" "Analyzer:2.0"; do
    "$ctl" product add "${p%%:*}" "${p#*:}" --if-missing >/dev/null || return 1
  done
  "$ctl" product relate Designer 1.0 Designer 2.0 UPGRADE --if-missing >/dev/null &&
    "$ctl" product relate Designer 2.0 "Designer Pro" 2.0 UPSELL --if-missing >/dev/null &&
    "$ctl" product relate Analyzer 1.0 Analyzer 2.0 UPGRADE --if-missing >/dev/null
}

ent_install_packages() {
  local missing=() p
  for p in "${ENT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  ent_log "installing ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq || ent_die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || ent_die "apt-get install ${missing[*]} failed"
}

# ent_build DIR [cmake args...]
ent_build() {
  local dir=$1; shift
  cmake -S "$ENT_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null \
    || ent_die "cmake configure failed"
  cmake --build "$dir" -j "$(nproc)" >/dev/null || {
    cmake --build "$dir" -j 1 2>&1 | tail -40 >&2
    ent_die "build failed"
  }
}

ent_pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || ent_die "PostgreSQL server binaries not found under /usr/lib/postgresql"
  printf '%s\n' "$d"
}

# Runs a PostgreSQL tool as the cluster's owner.
ent_pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# ent_pg_start HOME: initialises (first time) and starts the cluster under
# HOME/pg, creates the role and database "entitlementd", and prints the
# conninfo for it on stdout.
ent_pg_start() {
  local home=$1 bin pg
  bin=$(ent_pg_bin)
  mkdir -p "$home"
  home=$(cd "$home" && pwd)
  pg="$home/pg"
  mkdir -p "$pg"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || ent_die "user postgres missing (package postgresql not installed?)"
    # The cluster's owner must reach the data directory; when the project
    # lives where it cannot (a private home), keep the data in a private
    # directory under /tmp and link it into place.
    if ! runuser -u postgres -- test -x "$pg"; then
      local alt
      alt="/tmp/entitlementd-pg-$(printf '%s' "$pg" | sha1sum | cut -c1-12)"
      mkdir -p "$alt"
      rm -rf "$pg"
      ln -s "$alt" "$pg"
      pg=$alt
    fi
    chown postgres: "$pg"
  fi
  chmod 700 "$pg"
  if [ ! -f "$pg/data/PG_VERSION" ]; then
    ent_log "initialising PostgreSQL cluster in $pg/data"
    ent_pg_as_owner "$bin/initdb" -D "$pg/data" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 >"$pg/initdb.log" 2>&1 || { cat "$pg/initdb.log" >&2; ent_die "initdb failed"; }
  fi
  ent_pg_as_owner mkdir -p "$pg/run"
  if ! ent_pg_as_owner "$bin/pg_ctl" -D "$pg/data" status >/dev/null 2>&1; then
    ent_pg_as_owner "$bin/pg_ctl" -D "$pg/data" -l "$pg/postgresql.log" -w -t 60 \
      -o "-c listen_addresses='' -k '$pg/run' -c max_connections=200" start >/dev/null \
      || { tail -20 "$pg/postgresql.log" >&2; ent_die "PostgreSQL did not start"; }
  fi
  # The socket directory is reached through $home/pg even when the data
  # lives elsewhere.
  local sock="$home/pg/run"
  ent_pg_as_owner "$bin/psql" -h "$sock" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt >/dev/null <<'SQL' || ent_die "creating role and database failed"
SELECT 'CREATE ROLE entitlementd LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'entitlementd') \gexec
SELECT 'CREATE DATABASE entitlementd OWNER entitlementd' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'entitlementd') \gexec
SQL
  printf "host=%s dbname=entitlementd user=entitlementd\n" "$sock"
}

# ent_pg_stop HOME
ent_pg_stop() {
  local home=$1 bin
  bin=$(ent_pg_bin)
  [ -f "$home/pg/data/PG_VERSION" ] || return 0
  ent_pg_as_owner "$bin/pg_ctl" -D "$home/pg/data" -m fast -w stop >/dev/null 2>&1 || true
}

# ent_pg_cluster_ticks POSTMASTER_PID: the CPU ticks (user + system) a
# cluster has used: the postmaster, its children that exited, and its live
# children (a command name with spaces shifts the fields of that process
# only, whose fourth is then no number).
ent_pg_cluster_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
    awk -v pm="$1" '$1 == pm {t += $14 + $15 + $16 + $17} $4 == pm && $1 != pm {t += $14 + $15} END {print t + 0}'
}
