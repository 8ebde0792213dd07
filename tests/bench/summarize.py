"""Summarize cc_bench.sh runs: medians per server and connection count, and the Ostiary/peer ratio.

usage: summarize.py RUNS_TSV [TARGET_RATIO]

RUNS_TSV has a header line and one row per run:
    server conns rep rps p50_ms p99_ms non2xx requests cpu_s db_cpu_s
Ratios are taken per repeat (the two servers ran back to back) and their median reported, which
cancels most of the drift a shared machine adds. Exits 1 if the target is missed.
"""

from __future__ import annotations

import csv
import statistics
import sys
from collections import defaultdict

PEER = "peer"


def per_request_ms(seconds: str, requests: str) -> float | None:
    try:
        return 1000 * float(seconds) / int(requests) if int(requests) else None
    except ValueError:
        return None


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def main(argv: list[str]) -> int:
    target = float(argv[2]) if len(argv) > 2 else 0.7
    with open(argv[1], newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    # Rows measured against the peer, in the order they first ran: a registered client (ostiary), an API key
    # (apikey) on the same endpoint, and a second server of the same app, if one was given (BENCH_ALT_SERVE_CMD).
    ours = list(dict.fromkeys(row["server"] for row in rows if row["server"] != PEER))
    for row in rows:
        groups[(row["server"], int(row["conns"]))].append(row)

    print(f"{'server':<8} {'conns':>5} {'runs':>4} {'rps':>7} {'p50_ms':>7} {'p99_ms':>7} {'non2xx':>6} "
          f"{'cpu_ms/req':>10} {'db_cpu_ms/req':>13}")
    conns_seen = sorted({conns for _, conns in groups})
    for conns in conns_seen:
        for server in (*ours, PEER):
            runs = groups.get((server, conns), [])
            if not runs:
                continue
            print(f"{server:<8} {conns:>5} {len(runs):>4} "
                  f"{fmt(median([float(r['rps']) for r in runs]), 0):>7} "
                  f"{fmt(median([float(r['p50_ms']) for r in runs])):>7} "
                  f"{fmt(median([float(r['p99_ms']) for r in runs])):>7} "
                  f"{sum(int(r['non2xx']) for r in runs):>6} "
                  f"{fmt(median([per_request_ms(r['cpu_s'], r['requests']) for r in runs])):>10} "
                  f"{fmt(median([per_request_ms(r['db_cpu_s'], r['requests']) for r in runs])):>13}")

    print()
    met = True
    for conns in conns_seen:
        peer = {r["rep"]: r for r in groups.get((PEER, conns), [])}
        peer_cpu = median([per_request_ms(r["cpu_s"], r["requests"]) for r in peer.values()])
        for name in ours:
            mine = {r["rep"]: r for r in groups.get((name, conns), [])}
            if not mine:
                continue
            paired = sorted(set(mine) & set(peer), key=int)
            ratios = [float(mine[rep]["rps"]) / float(peer[rep]["rps"]) for rep in paired if float(peer[rep]["rps"]) > 0]
            non2xx = sum(int(r["non2xx"]) for r in mine.values())
            ratio = median(ratios)
            ok = ratio is not None and ratio >= target and non2xx == 0
            met = met and ok
            print(f"conns={conns:<3} {name}/peer rps = {fmt(ratio)}  (per repeat: {', '.join(fmt(r) for r in ratios)})  "
                  f"{name} non2xx={non2xx}  {'OK' if ok else 'BELOW TARGET'} (target >= {target:.2f}x, 0 non-2xx)")
            # CPU per token moves far less than rps when other work shares the machine.
            ours_cpu = median([per_request_ms(r["cpu_s"], r["requests"]) for r in mine.values()])
            ours_db = median([per_request_ms(r["db_cpu_s"], r["requests"]) for r in mine.values()]) or 0.0
            if ours_cpu and peer_cpu:
                print(f"          CPU per token: {name} {ours_cpu:.2f} ms + PostgreSQL {ours_db:.2f} ms, peer {peer_cpu:.2f} ms"
                      f"  -> peer/{name} = {peer_cpu / (ours_cpu + ours_db):.2f}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
