#!/usr/bin/env bash
# client_credentials tokens/s: Ostiary (gunicorn, PostgreSQL) against the reference peer
# (node oidc-provider), same load, same machine, runs alternated. See tests/bench/README.md.
#
# usage: tests/bench/cc_bench.sh
# env (all optional):
#   BENCH_REPEATS=2  BENCH_SECONDS=10  BENCH_CONNS="16 64"  BENCH_WARMUP_SECONDS=3
#   BENCH_WORKERS=2  BENCH_THREADS=<ostiary serve default>  BENCH_PORT=8000
#   BENCH_PEER_WORKERS=1  BENCH_PEER_PORT=3000  BENCH_SCOPE=api:read
#   BENCH_DB=ostiary_bench (dropped and created; PGHOST/PGPORT/PGUSER, default 127.0.0.1/5432/postgres)
#   BENCH_KIT=<repo>/../shared/bench   VENV=<repo>/.venv   BENCH_TARGET=0.7
#   BENCH_SERVE_CMD='<command>'  serve Ostiary with this instead of `ostiary serve` (run from the repo
#                   root with OSTIARY_* set; it must listen on 127.0.0.1:$BENCH_PORT)
#   BENCH_ALT_SERVE_CMD='<command>' BENCH_ALT_NAME=alt BENCH_ALT_PORT=<BENCH_PORT+1>  a second Ostiary server
#                   (another WSGI server, say) measured in the same run, alternating with the others
#   BENCH_PROFILE_SECONDS=10  py-spy a worker of the first server under load afterwards (0: no profile)
#   BENCH_OUT=<dir>  keep runs.tsv, summary.txt and the server logs there
#   BENCH_STRICT=1   exit 1 when the target is missed
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
KIT=${BENCH_KIT:-$REPO/../shared/bench}
REPEATS=${BENCH_REPEATS:-2}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-"16 64"}
WARMUP=${BENCH_WARMUP_SECONDS:-3}
WORKERS=${BENCH_WORKERS:-2}
THREADS=${BENCH_THREADS:-}
PORT=${BENCH_PORT:-8000}
PEER_WORKERS=${BENCH_PEER_WORKERS:-1}
PEER_PORT=${BENCH_PEER_PORT:-3000}
SCOPE=${BENCH_SCOPE:-api:read}
DB=${BENCH_DB:-ostiary_bench}
TARGET=${BENCH_TARGET:-0.7}
VENV=${VENV:-$REPO/.venv}
PY=$VENV/bin/python
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
ALT_CMD=${BENCH_ALT_SERVE_CMD:-}
ALT_NAME=${BENCH_ALT_NAME:-alt}
ALT_PORT=${BENCH_ALT_PORT:-$((PORT + 1))}
PROFILE_SECONDS=${BENCH_PROFILE_SECONDS:-10}
export BENCH_PORT=$PORT BENCH_ALT_PORT=$ALT_PORT

die() { echo "cc_bench: $*" >&2; exit 2; }
# shellcheck source=tests/bench/lib.sh
source "$HERE/lib.sh"

# --- preconditions ---------------------------------------------------------------------------
KIT=$(cd "$KIT" 2>/dev/null && pwd) || die "benchmark kit not found (set BENCH_KIT)"
[ -x "$KIT/cc_load.sh" ] && [ -f "$KIT/peer/start.sh" ] || die "$KIT lacks cc_load.sh or peer/start.sh"
[ -x "$VENV/bin/ostiary" ] || die "$VENV/bin/ostiary not found: pip install -e . into $VENV (or set VENV)"
for tool in wrk curl psql node npm; do command -v "$tool" >/dev/null || die "$tool is required"; done
case "$DB" in test|postgres|template0|template1) die "refusing to drop the database '$DB'";; esac
[[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must be a plain lower-case identifier"
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_busy "$PORT" && die "127.0.0.1:$PORT is already in use (set BENCH_PORT)"
port_busy "$PEER_PORT" && die "127.0.0.1:$PEER_PORT is already in use (set BENCH_PEER_PORT)"
[ -z "$ALT_CMD" ] || ! port_busy "$ALT_PORT" || die "127.0.0.1:$ALT_PORT is already in use (set BENCH_ALT_PORT)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ostiary-bench.XXXXXX")
OST_PID="" PEER_PID="" LOAD_PID="" ALT_PID=""

descendants() {  # descendants PID: its children, grandchildren, ...
  local kid
  for kid in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do echo "$kid"; descendants "$kid"; done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$LOAD_PID" ] && kill -0 "$LOAD_PID" 2>/dev/null; then
    # shellcheck disable=SC2046
    kill -TERM $(descendants "$LOAD_PID") "$LOAD_PID" 2>/dev/null || true
  fi
  stop "$OST_PID"
  stop "$ALT_PID"
  stop "$PEER_PID"
  if [ -n "${BENCH_OUT:-}" ]; then
    mkdir -p "$BENCH_OUT" && cp "$TMP"/*.tsv "$TMP"/*.txt "$TMP"/*.log "$BENCH_OUT"/ 2>/dev/null || true
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Show the tail of a server log, then fail.

# --- Ostiary: clean database, init, one client_credentials client ----------------------------
reset_database "$DB" "$PORT"
cd "$REPO"
"$VENV/bin/ostiary" init --json >"$TMP/init.json" 2>"$TMP/init.log" || fail_with_log "ostiary init failed" "$TMP/init.log"
"$VENV/bin/ostiary" clients create --name bench-cc --grant-type client_credentials --scope "$SCOPE" --json \
  >"$TMP/client.json" 2>>"$TMP/init.log" || fail_with_log "ostiary clients create failed" "$TMP/init.log"
read -r CID CSECRET < <("$PY" -c 'import json, sys; c = json.load(sys.stdin); print(c["client_id"], c["client_secret"])' <"$TMP/client.json")
# An API key on the same endpoint: client_id = the key id, client_secret = the whole key.
"$VENV/bin/ostiary" service-accounts create --name bench-sa --scope "$SCOPE" --json \
  >"$TMP/sa.json" 2>>"$TMP/init.log" || fail_with_log "ostiary service-accounts create failed" "$TMP/init.log"
SA_SUB=$("$PY" -c 'import json, sys; print(json.load(sys.stdin)["sub"])' <"$TMP/sa.json")
"$VENV/bin/ostiary" api-keys create --owner "$SA_SUB" --name bench --scope "$SCOPE" --json \
  >"$TMP/key.json" 2>>"$TMP/init.log" || fail_with_log "ostiary api-keys create failed" "$TMP/init.log"
read -r KEY_ID KEY < <("$PY" -c 'import json, sys; k = json.load(sys.stdin); print(k["key_id"], k["key"])' <"$TMP/key.json")

# --- start both servers ----------------------------------------------------------------------
if [ -n "${BENCH_SERVE_CMD:-}" ]; then
  echo "== ostiary: $BENCH_SERVE_CMD" >&2
  bash -c "exec $BENCH_SERVE_CMD" >>"$TMP/ostiary.log" 2>&1 &
else
  echo "== ostiary serve --workers $WORKERS${THREADS:+ --threads $THREADS} on 127.0.0.1:$PORT" >&2
  "$VENV/bin/ostiary" serve --host 127.0.0.1 --port "$PORT" --workers "$WORKERS" ${THREADS:+--threads "$THREADS"} \
    >>"$TMP/ostiary.log" 2>&1 &
fi
OST_PID=$!
if [ -n "$ALT_CMD" ]; then
  echo "== $ALT_NAME: $ALT_CMD" >&2
  bash -c "exec $ALT_CMD" >>"$TMP/$ALT_NAME.log" 2>&1 &
  ALT_PID=$!
fi

# The kit's start.sh, from a writable copy: npm ci then never writes into the kit, even as root.
PEER_DIR=${BENCH_PEER_DIR:-${TMPDIR:-/tmp}/ostiary-bench-peer}
mkdir -p "$PEER_DIR"
if ! cmp -s "$KIT/peer/package-lock.json" "$PEER_DIR/package-lock.json"; then rm -rf "$PEER_DIR/node_modules"; fi
for f in start.sh server.js verify.mjs package.json package-lock.json; do
  cp -f "$KIT/peer/$f" "$PEER_DIR/$f"
done
chmod u+w "$PEER_DIR"/* && chmod u+x "$PEER_DIR/start.sh"
echo "== peer: $KIT/peer/start.sh $PEER_WORKERS $PEER_PORT (run from $PEER_DIR)" >&2
"$PEER_DIR/start.sh" "$PEER_WORKERS" "$PEER_PORT" >>"$TMP/peer.log" 2>&1 &
PEER_PID=$!

wait_for() {  # wait_for NAME PID URL LOG SECONDS: until URL answers 200
  local i
  for i in $(seq $(($5 * 4))); do
    kill -0 "$2" 2>/dev/null || fail_with_log "$1 exited during start-up" "$4"
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$3" || true)" = 200 ] && return 0
    sleep 0.25
  done
  fail_with_log "$1 did not answer $3 within $5 s" "$4"
}
wait_for ostiary "$OST_PID" "http://127.0.0.1:$PORT/.well-known/openid-configuration" "$TMP/ostiary.log" 60
wait_for peer "$PEER_PID" "http://127.0.0.1:$PEER_PORT/.well-known/openid-configuration" "$TMP/peer.log" 300
if [ -n "$ALT_CMD" ]; then
  wait_for "$ALT_NAME" "$ALT_PID" "http://127.0.0.1:$ALT_PORT/.well-known/openid-configuration" "$TMP/$ALT_NAME.log" 60
fi

# --- one verified token from each: same checks for both ---------------------------------------
OST_URL=$("$PY" "$HERE/verify_token.py" "http://127.0.0.1:$PORT" "$CID" "$CSECRET" "$SCOPE") \
  || fail_with_log "Ostiary token did not verify" "$TMP/ostiary.log"
"$PY" "$HERE/verify_token.py" "http://127.0.0.1:$PORT" "$KEY_ID" "$KEY" "$SCOPE" >/dev/null \
  || fail_with_log "Ostiary API-key token did not verify" "$TMP/ostiary.log"
PEER_URL=$("$PY" "$HERE/verify_token.py" "http://127.0.0.1:$PEER_PORT" bench-client bench-secret "$SCOPE") \
  || fail_with_log "peer token did not verify" "$TMP/peer.log"
# The second server has the same issuer (the first one's URL), so its token endpoint is named here, not discovered.
ALT_URL="http://127.0.0.1:$ALT_PORT/oauth/token"
if [ -n "$ALT_CMD" ]; then
  [ "$(curl -s -o /dev/null -w '%{http_code}' -u "$CID:$CSECRET" -d grant_type=client_credentials \
    -d "scope=$SCOPE" "$ALT_URL")" = 200 ] || fail_with_log "$ALT_NAME issued no token" "$TMP/$ALT_NAME.log"
fi

tree_rss_kib() {  # tree_rss_kib PID: resident memory of a process and its descendants
  # shellcheck disable=SC2046
  ps -o rss= -p "$1" $(descendants "$1" | sed 's/^/-p /') 2>/dev/null | awk '{ total += $1 } END { print total + 0 }'
}

db_cpu_delta() {  # db_cpu_delta BEFORE AFTER: seconds (backends born during the run count whole)
  awk -v hz="$(getconf CLK_TCK)" 'NR == FNR { before[$1] = $2; next } { total += $2 - ($1 in before ? before[$1] : 0) }
    END { printf "%.2f", total / hz }' "$1" "$2"
}

RUNS="$TMP/runs.tsv"
printf 'server\tconns\trep\trps\tp50_ms\tp99_ms\tnon2xx\trequests\tcpu_s\tdb_cpu_s\n' >"$RUNS"

log_of() { [ "$1" = apikey ] && echo ostiary || echo "$1"; }

run_one() {  # run_one SERVER CONNS REP SECONDS
  local server=$1 conns=$2 rep=$3 secs=$4 pid url id secret out detail last requests cpu db_cpu
  case $server in
    ostiary) pid=$OST_PID url=$OST_URL id=$CID secret=$CSECRET ;;
    apikey) pid=$OST_PID url=$OST_URL id=$KEY_ID secret=$KEY ;;
    "$ALT_NAME") pid=$ALT_PID url=$ALT_URL id=$CID secret=$CSECRET ;;
    *) pid=$PEER_PID url=$PEER_URL id=bench-client secret=bench-secret ;;
  esac
  db_ticks "$DB" >"$TMP/db0"
  # In the background and waited for, so Ctrl-C or TERM stops the run at once instead of after it.
  SERVER_PID=$pid QUIET=1 "$KIT/cc_load.sh" "$url" "$id" "$secret" "scope=$SCOPE" "$secs" "$conns" \
    >"$TMP/load.out" 2>"$TMP/load.err" &
  LOAD_PID=$!
  wait "$LOAD_PID" || { cat "$TMP/load.err" >&2; die "load against $server failed"; }
  LOAD_PID=""
  out=$(cat "$TMP/load.out")
  db_ticks "$DB" >"$TMP/db1"
  kill -0 "$pid" 2>/dev/null || fail_with_log "$server died under load" "$TMP/$(log_of "$server").log"
  [ "$rep" = 0 ] && return 0  # warm-up, not recorded
  last=$(grep -E '^rps=' <<<"$out" | tail -1)
  detail=$(grep -E '^detail:' "$TMP/load.err" | tail -1)
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$detail")
  cpu=$(sed -n 's/.*server_cpu_s=\([0-9.]*\).*/\1/p' <<<"$detail")
  db_cpu=$(db_cpu_delta "$TMP/db0" "$TMP/db1")
  [ "$server" = peer ] && db_cpu=0
  # rps=.. p50_ms=.. p99_ms=.. non2xx=..  ->  tab-separated values
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$conns" "$rep" \
    "$(sed -E 's/rps=([^ ]+) p50_ms=([^ ]+) p99_ms=([^ ]+) non2xx=([^ ]+)/\1\t\2\t\3\t\4/' <<<"$last")" \
    "${requests:-0}" "${cpu:-0}" "$db_cpu" >>"$RUNS"
  printf '%-8s conns=%-3s rep=%s  %s  cpu_s=%s db_cpu_s=%s\n' "$server" "$conns" "$rep" "$last" "${cpu:--}" "$db_cpu"
  # Keep the access log from growing without bound: only its tail matters after a run.
  local log
  log="$TMP/$(log_of "$server").log"
  tail -n 200 "$log" >"$log.tail" && cat "$log.tail" >"$log"
}

MAX_CONNS=$(tr ' ' '\n' <<<"$CONNS" | sort -n | tail -1)
echo "== warm-up: ${WARMUP}s at $MAX_CONNS connections each" >&2
run_one ostiary "$MAX_CONNS" 0 "$WARMUP"
run_one peer "$MAX_CONNS" 0 "$WARMUP"
[ -z "$ALT_CMD" ] || run_one "$ALT_NAME" "$MAX_CONNS" 0 "$WARMUP"
RSS_BEFORE=$(tree_rss_kib "$OST_PID")
[ -z "$ALT_CMD" ] || ALT_RSS_BEFORE=$(tree_rss_kib "$ALT_PID")

echo "== $REPEATS repeat(s) x conns {$CONNS} x ${SECS}s, alternating servers (host: $(nproc) cpus)"
for rep in $(seq "$REPEATS"); do
  for conns in $CONNS; do
    # Alternate which server goes first, so drift on a shared machine does not favour one.
    if [ $((rep % 2)) = 1 ]; then order="ostiary apikey ${ALT_CMD:+$ALT_NAME} peer"
    else order="peer ${ALT_CMD:+$ALT_NAME} apikey ostiary"; fi
    for server in $order; do
      run_one "$server" "$conns" "$rep" "$SECS"
      sleep 1
    done
  done
done

RSS_AFTER=$(tree_rss_kib "$OST_PID")
[ -z "$ALT_CMD" ] || ALT_RSS_AFTER=$(tree_rss_kib "$ALT_PID")

PROFILE="$TMP/profile.txt"
: >"$PROFILE"
if [ "$PROFILE_SECONDS" -gt 0 ] && [ -x "$VENV/bin/py-spy" ]; then
  # A worker of the first server, under the 16-connection load, only while it holds the GIL (what costs CPU).
  worker=$(ps -o pid= --ppid "$OST_PID" | head -1 | tr -d ' ')
  echo "== py-spy: worker $worker, ${PROFILE_SECONDS}s under load" >&2
  SERVER_PID=$OST_PID QUIET=1 "$KIT/cc_load.sh" "$OST_URL" "$CID" "$CSECRET" "scope=$SCOPE" $((PROFILE_SECONDS + 4)) 16 \
    >/dev/null 2>&1 &
  LOAD_PID=$!
  sleep 2
  "$VENV/bin/py-spy" record --pid "$worker" --gil --rate 250 --nonblocking --duration "$PROFILE_SECONDS" --format raw \
    -o "$TMP/profile.raw" >/dev/null 2>&1 && "$PY" "$HERE/profile_top.py" "$TMP/profile.raw" 12 >"$PROFILE" || true
  wait "$LOAD_PID" || true
  LOAD_PID=""
fi

echo
status=0
"$PY" "$HERE/summarize.py" "$RUNS" "$TARGET" >"$TMP/table.txt" || status=$?
{
  cat "$TMP/table.txt"
  echo
  echo "resident memory of the server tree (all workers) before and after the measured runs:"
  echo "  ostiary ${RSS_BEFORE} KiB -> ${RSS_AFTER} KiB ($((RSS_AFTER - RSS_BEFORE)) KiB)"
  [ -z "$ALT_CMD" ] || echo "  $ALT_NAME ${ALT_RSS_BEFORE} KiB -> ${ALT_RSS_AFTER} KiB ($((ALT_RSS_AFTER - ALT_RSS_BEFORE)) KiB)"
  if [ -s "$PROFILE" ]; then echo; cat "$PROFILE"; fi
} | tee "$TMP/summary.txt"
if [ "$status" != 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then exit 1; fi
exit 0
