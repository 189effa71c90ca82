#!/usr/bin/env python3
"""ncu-summary.py CSV [TOKENS]: sums an Nsight Compute CSV of
gpu__time_duration (ncu --csv --metrics gpu__time_duration.sum) by kernel,
per token of a run that decoded TOKENS tokens, as a Markdown table: kernel,
launches per token, µs per token, share of the kernels' time. Without
TOKENS, a decode run's token count is its sw_embed launches over two (the
step's embedding and the logits' row gather)."""
import csv
import sys
from collections import defaultdict


def main():
    path, tokens = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
    time_us, count = defaultdict(float), defaultdict(int)
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]  # ncu prints its own log lines too
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        name = row.get("Kernel Name", "?")
        v = float(row["Metric Value"].replace(",", ""))
        unit = row.get("Metric Unit", "nsecond")
        scale = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6}.get(unit, 1e-3)
        time_us[name] += v * scale
        count[name] += 1
    if tokens <= 0:
        tokens = max(1, count.get("sw_embed", 0) // 2)
    total = sum(time_us.values())
    if total == 0:
        sys.exit("ncu-summary: no gpu__time_duration rows in " + path)
    print("| kernel | launches a token | µs a token | share |")
    print("|---|---|---|---|")
    for name in sorted(time_us, key=time_us.get, reverse=True):
        print("| %s | %.1f | %.1f | %.1f%% |" % (name, count[name] / tokens, time_us[name] / tokens,
                                                 100 * time_us[name] / total))
    print("| all | %.1f | %.1f | 100%% |" % (sum(count.values()) / tokens, total / tokens))
    print()
    print("%d tokens; times are per kernel, measured one at a time, so gaps between kernels are not in them." % tokens)


if __name__ == "__main__":
    main()
