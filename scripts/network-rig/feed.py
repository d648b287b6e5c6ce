#!/usr/bin/env python3
"""Switch times of a swipe feed on the rig, per preparation state (issue 24).

Runs `firstframe feed` inside the rig's namespace, one process per run (so each run's first room is a cold open:
an empty DNS cache, no connection), rotating runs through `--preload 1 --connect 0` (the rooms after the first are
preloaded), `--preload 0 --connect 2` (connected: a warm connection each) and `--preload 0 --connect 0` (resolved). Every room is the rig's HTTP-FLV URL with a distinct query, so each is
a room of its own to the preloader and the same stream to the origin. Prints p50/p90 of the switch time (the call
to the first picture) per state, each as a ratio to the cold p50 of the same run set, and what a preloaded room
costs: its bandwidth while hot (bytes read ÷ time hot) and its memory (resident memory with rooms held).
Usage: feed.py NAME [--runs 9] [--rooms 4] [--dwell 2] [--binary PATH] [--url URL] [--out FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import measure  # noqa: E402
import rig as rigmod  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--dwell", type=float, default=2.0)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--url", help="default: the rig's HTTP-FLV URL")
    parser.add_argument("--out")
    args = parser.parse_args()
    state = rigmod.Rig(args.name).state()
    if state is None:
        sys.exit("feed: rig %s is not up" % args.name)
    base = args.url or rigmod.urls()["flv"]
    switches = []
    for run in range(args.runs):
        preload, connect = [(1, 0), (0, 2), (0, 0)][run % 3]
        rooms = ["%s%sroom=%d-%d" % (base, "&" if "?" in base else "?", run, i) for i in range(args.rooms)]
        argv = ["ip", "netns", "exec", args.name, args.binary, "feed", *rooms, "--preload", str(preload),
                "--connect", str(connect), "--dwell", str(args.dwell), "--json", "--set", "caFile=" + state["ca"]]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        for line in result.stdout.splitlines():
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            entry.update({"run": run, "preload": preload})
            switches.append(entry)
            print("run %d preload %d room %d %-9s %7.1f ms" % (run, preload, entry.get("room", -1),
                                                              entry.get("state", "-"), entry.get("switchMs", -1)),
                  flush=True)
    by_state = {}
    for entry in switches:
        if "error" in entry:
            continue
        by_state.setdefault(entry["state"], []).append(entry["switchMs"])
    cold = statistics.median(by_state["cold"]) if by_state.get("cold") else None
    print("\nrig %s: RTT %s ms, %s kbit/s, loss %s %%" % (args.name, state["rtt_ms"], state["rate_kbit"],
                                                     state.get("loss_pct")))
    print("| state | n | p50 ms | p90 ms | p50 / cold p50 |")
    print("|---|---|---|---|---|")
    summary = {}
    for name in ("cold", "resolved", "connected", "preloaded"):
        values = by_state.get(name)
        if not values:
            continue
        p50, p90 = measure.percentile(values, 0.5), measure.percentile(values, 0.9)
        summary[name] = {"n": len(values), "p50_ms": p50, "p90_ms": p90, "ratio_to_cold": p50 / cold if cold else None}
        print("| %s | %d | %.1f | %.1f | %s |" % (name, len(values), p50, p90,
                                                 "%.3f" % (p50 / cold) if cold else "-"))
    hot = [e for e in switches if e.get("state") == "preloaded" and e.get("preparedMs")]
    if hot:
        rates = [e["bytesReadWhilePreloaded"] * 8 / e["preparedMs"] for e in hot]  # kbit/s
        held = [e["heldBytes"] for e in hot]
        print("preloaded room: %.0f kbit/s while hot (median of %d), holds %.0f kB (median, max %.0f kB)" % (
            statistics.median(rates), len(rates), statistics.median(held) / 1000, max(held) / 1000))
        summary["preloaded_cost"] = {"kbit_per_s_median": statistics.median(rates),
                                     "held_bytes_median": statistics.median(held), "held_bytes_max": max(held)}
    rss = {}
    for entry in switches:
        rss.setdefault(entry["preload"], []).append(entry.get("residentBytes", 0))
    if rss.get(0) and rss.get(1):
        # Runs without a preloaded room (connected and resolved) against those with one.
        delta = statistics.median(rss[1]) - statistics.median(rss[0])
        print("resident memory: %.1f MB with one room preloaded, %.1f MB without (+%.1f MB)" % (
            statistics.median(rss[1]) / 1e6, statistics.median(rss[0]) / 1e6, delta / 1e6))
        summary["resident_delta_bytes"] = delta
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"rig": state, "summary": summary, "switches": switches}, f, indent=1)


if __name__ == "__main__":
    main()
