# Shell functions shared by the benchmark scripts (sourced, not run). Each script defines die().

stop() {  # stop PID: TERM a server, then KILL it and its children after a grace period
  local pid=$1 kids i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then
    # shellcheck disable=SC2086
    kill -KILL "$pid" $kids 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

fail_with_log() { echo "--- $2 (last lines)" >&2; tail -n 30 "$2" >&2 || true; die "$1"; }

# reset_database DB PORT: drop and create the bench database; point ostiary (database, keys, issuer) at it.
reset_database() {
  echo "== database $1 on $PGHOST:$PGPORT (dropped and created)" >&2
  psql -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
  export OSTIARY_DATABASE_URL="postgresql+psycopg://$PGUSER@$PGHOST:$PGPORT/$1"
  export OSTIARY_KEYS_DIR="$TMP/keys"
  export OSTIARY_ISSUER="http://127.0.0.1:$2"
}

db_ticks() {  # db_ticks DB: CPU ticks of the PostgreSQL backends on that database, as "pid ticks" lines
  local p
  for p in $(psql -X -A -t -d postgres -c "SELECT pid FROM pg_stat_activity WHERE datname = '$1'" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] && echo "$p $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')"
  done
  return 0
}
