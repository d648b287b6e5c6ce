#!/usr/bin/env python3
"""The report's RTT and floor against independent figures, on a rig that is up (issue 23).

For each protocol, opens the rig's URL with the `instant` preset N times and compares, per open:
- the report's `floor.rttMs` (the least RTT the kernel saw, TCP_INFO) with the RTT the emulator was set to: within
  --rtt-tolerance (10 %);
- the report's `floor.floorMs` with measure.py's floor, computed independently from the emulator's settings (RTT,
  rate), the origin's own record of the bytes up to the first keyframe (or ffprobe on the HLS segments on disk), the
  protocol's round trips and the same open's decode: within --floor-tolerance (15 %).

Exit 0 when every open is within both, 1 otherwise (each miss printed), 2 when the rig is not up or a tool is
missing. RTMP is left out: its floor holds the stream's actual keyframe wait, where measure.py can only put GOP/2.
Usage: accuracy.py NAME [--repeat 3] [--protocols flv,https,hls] [--binary PATH] [--json FILE]
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import measure  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--protocols", default="flv,https,hls")
    parser.add_argument("--binary", required=True)
    parser.add_argument("--timeout", type=float, default=15)
    parser.add_argument("--rtt-tolerance", type=float, default=0.10)
    parser.add_argument("--floor-tolerance", type=float, default=0.15)
    parser.add_argument("--json", help="write every open's figures here")
    args = parser.parse_args()
    args.keep_reports = True
    bench = measure.Measure(args)
    state = bench.state
    rtt = float(state["rtt_ms"])
    keyframe = bench.keyframe_bytes()
    rows, misses = [], []
    for round_index in range(args.repeat):
        for protocol in args.protocols.split(","):
            entry = bench.open_probe(bench.urls[protocol], "instant")
            report = entry.get("report") or {}
            floor = report.get("floor")
            row = {"round": round_index, "protocol": protocol, "outcome": entry.get("outcome"),
                   "first_picture_ms": entry.get("first_picture_ms")}
            if entry.get("outcome") != "ok" or floor is None:
                row["miss"] = "no floor in the report (outcome %s)" % entry.get("outcome")
                misses.append(row)
                rows.append(row)
                continue
            independent = measure.floors(state, keyframe, floor["decodeMs"]).get(protocol)
            row.update({"rtt_ms": floor["rttMs"], "set_rtt_ms": rtt, "floor_ms": floor["floorMs"],
                        "independent_floor_ms": independent and independent["floor_ms"],
                        "keyframe_bytes": floor.get("keyframeBytes"),
                        "independent_bytes": independent and independent["bytes"],
                        "rate_kbit": floor.get("deliveryRateKbit"), "set_rate_kbit": state["rate_kbit"],
                        "round_trips": [floor["roundTripsNeeded"], round(floor["roundTripsSpent"], 2)]})
            rtt_error = floor["rttMs"] / rtt - 1
            row["rtt_error"] = round(rtt_error, 4)
            if abs(rtt_error) > args.rtt_tolerance:
                row["miss"] = "RTT %.1f ms vs set %.0f ms (%+.1f %%)" % (floor["rttMs"], rtt, rtt_error * 100)
            if independent:
                floor_error = floor["floorMs"] / independent["floor_ms"] - 1
                row["floor_error"] = round(floor_error, 4)
                if abs(floor_error) > args.floor_tolerance:
                    row["miss"] = "floor %.0f ms vs independent %.0f ms (%+.1f %%)" % (
                        floor["floorMs"], independent["floor_ms"], floor_error * 100)
            if "miss" in row:
                misses.append(row)
            rows.append(row)
            print("%-6s rtt %6.1f ms (%+5.1f %%)  floor %6.1f ms vs %6s (%s)  bytes %s vs %s  %s" % (
                protocol, floor["rttMs"], rtt_error * 100, floor["floorMs"],
                "%.1f" % independent["floor_ms"] if independent else "-",
                "%+.1f %%" % (row["floor_error"] * 100) if "floor_error" in row else "-",
                floor.get("keyframeBytes"), independent and independent["bytes"], row.get("miss", "ok")),
                flush=True)
            time.sleep(0.5)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rig": state, "keyframe": keyframe, "opens": rows}, f, indent=1)
    errors = [abs(r["rtt_error"]) for r in rows if "rtt_error" in r]
    floor_errors = [abs(r["floor_error"]) for r in rows if "floor_error" in r]
    if errors and floor_errors:
        print("RTT error: median %.1f %%, max %.1f %%; floor error: median %.1f %%, max %.1f %% (%d opens)" % (
            statistics.median(errors) * 100, max(errors) * 100, statistics.median(floor_errors) * 100,
            max(floor_errors) * 100, len(rows)))
    if misses:
        print("FAIL: %d of %d opens out of tolerance" % (len(misses), len(rows)))
        sys.exit(1)
    print("ok: %d opens, RTT within %.0f %% and floor within %.0f %%" % (
        len(rows), args.rtt_tolerance * 100, args.floor_tolerance * 100))


if __name__ == "__main__":
    main()
