#!/usr/bin/env bash
# Stateful paths on PostgreSQL through `ostiary serve`: refresh_token grants/s (each pre-issued refresh
# token used once) and introspections/s of live JWT access tokens. See tests/bench/README.md.
#
# usage: tests/bench/stateful_bench.sh
# env (all optional):
#   BENCH_REPEATS=1  BENCH_SECONDS=10  BENCH_CONNS="16 64"  BENCH_WARMUP_SECONDS=3
#   BENCH_WORKERS=2  BENCH_THREADS=<ostiary serve default>  BENCH_PORT=8100
#   BENCH_REFRESH_POOL=40000 (refresh tokens issued up front)  BENCH_ACCESS_TOKENS=64
#   BENCH_DB=ostiary_bench_stateful (dropped and created; PGHOST/PGPORT/PGUSER, default 127.0.0.1/5432/postgres)
#   VENV=<repo>/.venv  WRK_THREADS=1  BENCH_OUT=<dir> (keep runs.tsv and the server log)
#   BENCH_REFRESH_TARGET=480  BENCH_INTROSPECT_TARGET=2000  BENCH_STRICT=1: exit 1 when a target is missed
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
REPEATS=${BENCH_REPEATS:-1}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-"16 64"}
WARMUP=${BENCH_WARMUP_SECONDS:-3}
WORKERS=${BENCH_WORKERS:-2}
THREADS=${BENCH_THREADS:-}
PORT=${BENCH_PORT:-8100}
POOL=${BENCH_REFRESH_POOL:-40000}
ACCESS=${BENCH_ACCESS_TOKENS:-64}
DB=${BENCH_DB:-ostiary_bench_stateful}
WRK_THREADS=${WRK_THREADS:-1}
VENV=${VENV:-$REPO/.venv}
PY=$VENV/bin/python
SCOPE="api:read"
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}

die() { echo "stateful_bench: $*" >&2; exit 2; }
# shellcheck source=tests/bench/lib.sh
source "$HERE/lib.sh"

[ -x "$VENV/bin/ostiary" ] || die "$VENV/bin/ostiary not found: pip install -e . into $VENV (or set VENV)"
for tool in wrk curl psql; do command -v "$tool" >/dev/null || die "$tool is required"; done
case "$DB" in test|postgres|template0|template1) die "refusing to drop the database '$DB'";; esac
[[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must be a plain lower-case identifier"
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && die "127.0.0.1:$PORT is already in use (set BENCH_PORT)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ostiary-stateful.XXXXXX")
OST_PID="" LOAD_PID=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "$LOAD_PID" ] && kill -TERM "$LOAD_PID" 2>/dev/null || true
  stop "$OST_PID"
  if [ -n "${BENCH_OUT:-}" ]; then mkdir -p "$BENCH_OUT" && cp "$TMP"/*.tsv "$TMP"/*.log "$BENCH_OUT"/ 2>/dev/null || true; fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- database, one user, one confidential client with authorization_code + refresh_token ----------
reset_database "$DB" "$PORT"
cd "$REPO"
OST="$VENV/bin/ostiary"
"$OST" init --json >"$TMP/init.json" 2>"$TMP/init.log" || fail_with_log "ostiary init failed" "$TMP/init.log"
printf 'bench-Passw0rd-%s\n' "$RANDOM$RANDOM" | "$OST" users create bench@example.com --password-stdin --json \
  >/dev/null 2>>"$TMP/init.log" || fail_with_log "ostiary users create failed" "$TMP/init.log"
"$OST" clients create --name bench-rt --redirect-uri https://rp.example/cb --grant-type authorization_code \
  --grant-type refresh_token --scope "$SCOPE" --json >"$TMP/client.json" 2>>"$TMP/init.log" \
  || fail_with_log "ostiary clients create failed" "$TMP/init.log"
read -r CID CSECRET < <("$PY" -c 'import json, sys; c = json.load(sys.stdin); print(c["client_id"], c["client_secret"])' <"$TMP/client.json")
AUTHZ="Basic $("$PY" -c 'import base64, sys, urllib.parse as u; print(base64.b64encode(f"{u.quote_plus(sys.argv[1])}:{u.quote_plus(sys.argv[2])}".encode()).decode())' "$CID" "$CSECRET")"
"$PY" "$HERE/issue_tokens.py" "$CID" bench@example.com "$SCOPE" "$POOL" "$TMP/refresh.txt" "$ACCESS" "$TMP/access.txt" \
  2>>"$TMP/init.log" || fail_with_log "issue_tokens.py failed" "$TMP/init.log"
tail -n 1 "$TMP/init.log" >&2

# --- server --------------------------------------------------------------------------------------
echo "== ostiary serve --workers $WORKERS${THREADS:+ --threads $THREADS} on 127.0.0.1:$PORT" >&2
"$OST" serve --host 127.0.0.1 --port "$PORT" --workers "$WORKERS" ${THREADS:+--threads "$THREADS"} >>"$TMP/ostiary.log" 2>&1 &
OST_PID=$!
for i in $(seq 240); do
  kill -0 "$OST_PID" 2>/dev/null || fail_with_log "ostiary exited during start-up" "$TMP/ostiary.log"
  [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$OSTIARY_ISSUER/.well-known/openid-configuration" || true)" = 200 ] && break
  sleep 0.25
done
TOKEN_URL="$OSTIARY_ISSUER/oauth/token"
INTROSPECT_URL="$OSTIARY_ISSUER/oauth/introspect"

# One of each by hand first: a rotated refresh token and an active introspection, or no benchmark.
probe=$(curl -s -X POST -H "Authorization: $AUTHZ" --data "grant_type=refresh_token&refresh_token=$(head -1 "$TMP/refresh.txt")" "$TOKEN_URL")
grep -q '"refresh_token"' <<<"$probe" || fail_with_log "refresh probe failed: $probe" "$TMP/ostiary.log"
probe=$(curl -s -X POST -H "Authorization: $AUTHZ" --data "token=$(head -1 "$TMP/access.txt")" "$INTROSPECT_URL")
grep -Eq '"active": ?true' <<<"$probe" || fail_with_log "introspection probe failed: $probe" "$TMP/ostiary.log"
OFFSET=1  # refresh tokens already used (the probe)

# --- load ----------------------------------------------------------------------------------------
tree_ticks() {  # CPU ticks (user+sys) of the server's process tree
  local p total=0
  for p in "$OST_PID" $(ps -o pid= --ppid "$OST_PID" 2>/dev/null || true); do
    [ -r "/proc/$p/stat" ] && total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}
HZ=$(getconf CLK_TCK)
RUNS="$TMP/runs.tsv"
printf 'path\tconns\trep\trps\tp50_ms\tp99_ms\tnon2xx\trequests\tcpu_ms_req\tdb_cpu_ms_req\n' >"$RUNS"

run_one() {  # run_one PATH CONNS REP SECONDS
  local path=$1 conns=$2 rep=$3 secs=$4 url file c0 c1 out detail last requests used cpu db
  if [ "$path" = refresh ]; then
    url=$TOKEN_URL file="$TMP/slice.txt"
    tail -n +$((OFFSET + 1)) "$TMP/refresh.txt" >"$file"
    [ -s "$file" ] || die "the refresh-token pool is used up (raise BENCH_REFRESH_POOL)"
  else
    url=$INTROSPECT_URL file="$TMP/access.txt"
  fi
  db_ticks "$DB" >"$TMP/db0"; c0=$(tree_ticks)
  wrk -t"$WRK_THREADS" -c"$conns" -d"${secs}s" --timeout 5s -s "$HERE/token_pool.lua" "$url" \
    -- "$path" "$file" "$AUTHZ" "$WRK_THREADS" >"$TMP/load.out" 2>&1 &
  LOAD_PID=$!
  wait "$LOAD_PID" || { cat "$TMP/load.out" >&2; die "wrk failed"; }
  LOAD_PID=""
  c1=$(tree_ticks); db_ticks "$DB" >"$TMP/db1"
  kill -0 "$OST_PID" 2>/dev/null || fail_with_log "ostiary died under load" "$TMP/ostiary.log"
  out=$(cat "$TMP/load.out")
  detail=$(grep -E '^detail:' <<<"$out" | tail -1)
  last=$(grep -E '^rps=' <<<"$out" | tail -1)
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$detail")
  if [ "$path" = refresh ]; then
    used=$(sed -n 's/.*pool_used=\([0-9]*\).*/\1/p' <<<"$detail")
    OFFSET=$((OFFSET + used))
    grep -q 'pool_exhausted=0' <<<"$detail" || echo "WARNING: the refresh-token pool ran out during this run" >&2
  fi
  grep -E '^first_error:' <<<"$out" >&2 || true
  [ "$rep" = 0 ] && return 0
  cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$requests" 'BEGIN { printf "%.2f", n ? 1000 * (b - a) / hz / n : 0 }')
  db=$(awk -v hz="$HZ" -v n="$requests" 'NR == FNR { before[$1] = $2; next } { t += $2 - ($1 in before ? before[$1] : 0) }
    END { printf "%.2f", n ? 1000 * t / hz / n : 0 }' "$TMP/db0" "$TMP/db1")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$path" "$conns" "$rep" \
    "$(sed -E 's/rps=([^ ]+) p50_ms=([^ ]+) p99_ms=([^ ]+) non2xx=([^ ]+)/\1\t\2\t\3\t\4/' <<<"$last")" \
    "$requests" "$cpu" "$db" >>"$RUNS"
  printf '%-10s conns=%-3s rep=%s  %s  cpu_ms/req=%s db_cpu_ms/req=%s\n' "$path" "$conns" "$rep" "$last" "$cpu" "$db"
  tail -n 200 "$TMP/ostiary.log" >"$TMP/ostiary.tail" && cat "$TMP/ostiary.tail" >"$TMP/ostiary.log"
}

MAX_CONNS=$(tr ' ' '\n' <<<"$CONNS" | sort -n | tail -1)
echo "== warm-up: ${WARMUP}s per path at $MAX_CONNS connections" >&2
run_one refresh "$MAX_CONNS" 0 "$WARMUP"
run_one introspect "$MAX_CONNS" 0 "$WARMUP"

echo "== $REPEATS repeat(s) x conns {$CONNS} x ${SECS}s per path (host: $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg))"
for rep in $(seq "$REPEATS"); do
  for conns in $CONNS; do
    for path in refresh introspect; do
      run_one "$path" "$conns" "$rep" "$SECS"
      sleep 1
    done
  done
done
echo "refresh tokens used: $OFFSET of $POOL"

echo
status=0
"$PY" - "$RUNS" "${BENCH_REFRESH_TARGET:-480}" "${BENCH_INTROSPECT_TARGET:-2000}" <<'EOF' || status=$?
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
targets = {"refresh": float(sys.argv[2]), "introspect": float(sys.argv[3])}
print(f"{'path':<10} {'conns':>5} {'runs':>4} {'rps':>7} {'p50_ms':>7} {'p99_ms':>7} {'non2xx':>6} {'cpu_ms/req':>10} {'db_cpu_ms/req':>13}  target")
met = True
for path in ("refresh", "introspect"):
    for conns in sorted({int(r["conns"]) for r in rows}):
        runs = [r for r in rows if r["path"] == path and int(r["conns"]) == conns]
        if not runs:
            continue
        med = lambda key: statistics.median(float(r[key]) for r in runs)
        bad = sum(int(r["non2xx"]) for r in runs)
        ok = med("rps") >= targets[path] and bad == 0
        met = met and ok
        print(f"{path:<10} {conns:>5} {len(runs):>4} {med('rps'):>7.0f} {med('p50_ms'):>7.2f} {med('p99_ms'):>7.2f} "
              f"{bad:>6} {med('cpu_ms_req'):>10.2f} {med('db_cpu_ms_req'):>13.2f}  "
              f"{'OK' if ok else 'BELOW'} (>= {targets[path]:.0f}/s, 0 non-2xx)")
sys.exit(0 if met else 1)
EOF
if [ "$status" != 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then exit 1; fi
exit 0
