#!/usr/bin/env bash
# Both benchmarks, one after the other, and one table: client_credentials against the peer (cc_bench.sh), then
# refresh-token grants and introspections (stateful_bench.sh). See tests/bench/README.md.
#
# usage: tests/bench/bench.sh          every cc_bench.sh / stateful_bench.sh variable applies to both
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${VENV:-$REPO/.venv}
OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ostiary-bench-all.XXXXXX")}
mkdir -p "$OUT/cc" "$OUT/stateful"

BENCH_OUT="$OUT/cc" BENCH_STRICT=0 "$HERE/cc_bench.sh" >"$OUT/cc.log"
BENCH_OUT="$OUT/stateful" BENCH_STRICT=0 BENCH_PORT=${BENCH_STATEFUL_PORT:-8100} "$HERE/stateful_bench.sh" \
  >"$OUT/stateful.log"

echo "== $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg); runs and logs in $OUT"
status=0
"$VENV/bin/python" "$HERE/report.py" "$OUT/cc/runs.tsv" "$OUT/stateful/runs.tsv" "${BENCH_TARGET:-0.7}" \
  "${BENCH_REFRESH_TARGET:-480}" "${BENCH_INTROSPECT_TARGET:-2000}" || status=$?
echo
sed -n '/^resident memory/,$p' "$OUT/cc/summary.txt"
if [ "$status" != 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then exit 1; fi
exit 0
