"""The top frames of a py-spy profile (`py-spy record --format raw`: one "frame;frame;... count" line per stack).

usage: profile_top.py RAW_FILE [N]

Prints the N functions with the most samples on top of the stack (self), then the N functions of Ostiary
(app/) with the most samples anywhere in the stack (inclusive), each as a share of all samples. Idle
samples (a thread waiting in select/poll/epoll, a lock or a socket read) are left out of the total.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

# py-spy writes a frame as "function (path/to/file.py:line)", the path relative to sys.path; the line number is
# dropped, so a function is one row.
FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")
IDLE = ("select", "poll", "epoll", "wait", "accept", "recv_into", "_recv_into", "sleep", "acquire", "readinto")


def frame_name(frame: str) -> tuple[str, str]:
    matched = FRAME.match(frame.strip())
    if matched is None:
        return frame.strip(), ""
    path = matched.group("path").split("site-packages/")[-1]
    return f"{matched.group('function')} ({path})", path


def main(argv: list[str]) -> int:
    top = int(argv[2]) if len(argv) > 2 else 15
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    with open(argv[1]) as handle:
        for line in handle:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            frames = [frame_name(frame) for frame in stack.split(";") if frame]
            leaf = frames[-1][0]
            if leaf.split(" ")[0].rpartition(".")[2] in IDLE:
                continue
            count = int(count_text)
            total += count
            own[leaf] += count
            for name in {name for name, path in frames if path.startswith("app/") or "/app/" in path}:
                inclusive[name] += count
    if not total:
        print("no busy samples")
        return 1
    print(f"py-spy: {total} busy samples; self time (top of stack):")
    for name, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {name}")
    print("Ostiary functions, inclusive (anywhere in the stack):")
    for name, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
