# pg_server.sh -- a private PostgreSQL server for the PostgreSQL tests
# (sourced, not a test).  pg_start initdb's a cluster into a fresh
# directory under /tmp as an unprivileged user (initdb refuses root: as
# root it uses the system user `sluicepg`, created when missing), starts it
# with pg_ctl on a free port of 127.0.0.1 (wal_level=logical, prepared
# transactions on, trust authentication, its socket in that directory) and
# exports PGHOST, PGPORT, PGUSER (sluice, the superuser) and PGDATABASE
# (postgres), and PG_URI (postgresql://sluice@127.0.0.1:PORT/postgres).
# The server is stopped and the directory removed when the shell exits.
# No PostgreSQL server installed is a FAILURE, never a skip: scripts/deps.sh
# installs Debian's postgresql.

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")
  [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  return 1
}

pg_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_as() { # run a command as the cluster's owner
  if [ "$(id -u)" -eq 0 ]; then runuser -u sluicepg -- "$@"; else "$@"; fi
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ]; then
    pg_as "$PG_BIN/pg_ctl" stop -D "$PG_DIR/data" -m immediate >/dev/null 2>&1
    rm -rf "$PG_DIR"
  fi
}

pg_start() {
  PG_BIN=$(pg_bindir) || {
    echo "FAIL: no PostgreSQL server (initdb, pg_ctl) found in /usr/lib/postgresql/*/bin or" \
      "on PATH: install it (apt-get install postgresql, or scripts/deps.sh)" >&2
    exit 1
  }
  if [ "$(id -u)" -eq 0 ] && ! id sluicepg >/dev/null 2>&1; then
    # (two tests may race here: the user existing afterwards is what counts)
    useradd -r -M -s /usr/sbin/nologin sluicepg 2>/dev/null || id sluicepg >/dev/null 2>&1 ||
      { echo "FAIL: cannot create the system user sluicepg (initdb refuses root)" >&2; exit 1; }
  fi
  PG_DIR=$(mktemp -d /tmp/sluicepg.XXXXXX)
  chmod 755 "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown sluicepg "$PG_DIR"
  # stop the server at exit; a script with its own EXIT trap (which must
  # then call pg_stop) keeps it: replacing it would leak what it cleans up
  [ -n "$(trap -p EXIT)" ] || trap pg_stop EXIT
  if ! pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U sluice --auth=trust -E UTF8 --no-locale \
    >"$PG_DIR/initdb.log" 2>&1; then
    echo "FAIL: initdb failed:" >&2; tail -20 "$PG_DIR/initdb.log" >&2; exit 1
  fi
  local try
  for try in 1 2 3 4 5; do
    PGPORT=$(pg_free_port)
    if pg_as "$PG_BIN/pg_ctl" start -w -t 60 -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
      -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR -c wal_level=logical -c max_prepared_transactions=20 -c max_wal_senders=5 -c max_replication_slots=5 -c fsync=off" \
      >/dev/null 2>&1; then
      export PGHOST=127.0.0.1 PGPORT PGUSER=sluice PGDATABASE=postgres
      export PG_URI="postgresql://sluice@127.0.0.1:$PGPORT/postgres"
      return 0
    fi
  done
  echo "FAIL: pg_ctl start failed:" >&2; tail -20 "$PG_DIR/server.log" >&2; exit 1
}

PSQL() { "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
