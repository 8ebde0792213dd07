"""One table from both benchmarks: client_credentials (Ostiary rows and the peer, cc_bench.sh) and the stateful
paths (refresh_token grants, introspections: stateful_bench.sh), medians per row, then the targets.

usage: report.py CC_RUNS_TSV STATEFUL_RUNS_TSV [TARGET_RATIO] [REFRESH_TARGET] [INTROSPECT_TARGET]
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict

from summarize import PEER, fmt, median, per_request_ms

HEADER = (f"{'what':<28} {'conns':>5} {'runs':>4} {'rps':>7} {'p50_ms':>7} {'p99_ms':>8} {'non2xx':>6} "
          f"{'cpu_ms/req':>10} {'db_cpu_ms/req':>13}")


def rows_of(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def line(what: str, conns: int, runs: list[dict[str, str]], cpu: float | None, db: float | None) -> str:
    return (f"{what:<28} {conns:>5} {len(runs):>4} {fmt(median([float(r['rps']) for r in runs]), 0):>7} "
            f"{fmt(median([float(r['p50_ms']) for r in runs])):>7} {fmt(median([float(r['p99_ms']) for r in runs])):>8} "
            f"{sum(int(r['non2xx']) for r in runs):>6} {fmt(cpu):>10} {fmt(db):>13}")


def main(argv: list[str]) -> int:
    cc, stateful = rows_of(argv[1]), rows_of(argv[2])
    target = float(argv[3]) if len(argv) > 3 else 0.7
    stateful_targets = {"refresh": float(argv[4]) if len(argv) > 4 else 480.0,
                        "introspect": float(argv[5]) if len(argv) > 5 else 2000.0}
    groups: dict[tuple[str, int], list[dict[str, str]]] = defaultdict(list)
    for row in cc:
        groups[(row["server"], int(row["conns"]))].append(row)
    servers = list(dict.fromkeys(row["server"] for row in cc if row["server"] != PEER)) + [PEER]
    print(HEADER)
    conns_seen = sorted({conns for _, conns in groups})
    for conns in conns_seen:
        for server in servers:
            runs = groups.get((server, conns), [])
            if runs:
                cpu = median([per_request_ms(r["cpu_s"], r["requests"]) for r in runs])
                db = median([per_request_ms(r["db_cpu_s"], r["requests"]) for r in runs])
                print(line(f"client_credentials {server}", conns, runs, cpu, db))
    names = {"refresh": "refresh_token ostiary", "introspect": "introspection ostiary"}
    for path in ("refresh", "introspect"):
        for conns in sorted({int(r["conns"]) for r in stateful}):
            runs = [r for r in stateful if r["path"] == path and int(r["conns"]) == conns]
            if runs:
                print(line(names[path], conns, runs, median([float(r["cpu_ms_req"]) for r in runs]),
                           median([float(r["db_cpu_ms_req"]) for r in runs])))
    print()
    met = True
    for conns in conns_seen:
        peer = {r["rep"]: r for r in groups.get((PEER, conns), [])}
        for server in servers[:-1]:
            mine = {r["rep"]: r for r in groups.get((server, conns), [])}
            ratios = [float(mine[rep]["rps"]) / float(peer[rep]["rps"]) for rep in sorted(set(mine) & set(peer), key=int)
                      if float(peer[rep]["rps"]) > 0]
            ratio = median(ratios)
            ok = ratio is not None and ratio >= target and all(r["non2xx"] == "0" for r in mine.values())
            met = met and ok
            print(f"client_credentials {server}/peer at {conns}: {fmt(ratio)} (per repeat: "
                  f"{', '.join(fmt(r) for r in ratios)})  {'OK' if ok else 'BELOW'} (>= {target:.2f}x, 0 non-2xx)")
    for path, goal in stateful_targets.items():
        runs = [r for r in stateful if r["path"] == path]
        rps = median([float(r["rps"]) for r in runs])
        ok = rps is not None and rps >= goal and all(r["non2xx"] == "0" for r in runs)
        met = met and ok
        print(f"{names[path]}: {fmt(rps, 0)}/s  {'OK' if ok else 'BELOW'} (>= {goal:.0f}/s, 0 non-2xx)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
