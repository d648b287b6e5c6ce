#!/usr/bin/env python3
"""One Markdown table from several measure.py results (one per profile): a row per protocol × contender, per
profile p50 / p90 in ms and p50 / p90 as multiples of the floor. Also `--slim OUT`: rewrite one result without the
bulky per-open parts (full reports, cause spans, advice), for keeping in the repository.

  table.py results/before-4g.json results/before-weak.json results/before-lan.json
  table.py --slim results/before-4g.json /work/rig-results/before-4g.json
  table.py --merge OUT run1/4g.json run2/4g.json     (two runs of one profile: their opens, one summary)
"""
import json
import sys

KEEP = ("round", "protocol", "contender", "outcome", "first_picture_ms", "wall_ms", "causes_ms", "stages_ms", "hops",
        "connects", "reused", "dns_lookups", "keyframe_arrival", "error", "loadavg1", "t", "rc")


def slim(out, source):
    with open(source) as f:
        data = json.load(f)
    data["opens"] = [{k: o[k] for k in KEEP if k in o} for o in data["opens"]]
    with open(out, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")


def merge(out, sources):
    """The opens of several runs of one profile (the same rig settings), summarised together; the first run's
    meta (floors, rig) with the rounds and load averages of all."""
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import measure
    runs = [json.load(open(p)) for p in sources]
    rigs = {(r["meta"]["rig"]["profile"], r["meta"]["rig"]["rtt_ms"], r["meta"]["rig"]["rate_kbit"]) for r in runs}
    if len(rigs) != 1:
        sys.exit("table: --merge needs runs of one profile, got %s" % sorted(rigs))
    meta = dict(runs[0]["meta"])
    opens = [o for r in runs for o in r["opens"]]
    meta["repeat"] = sum(r["meta"]["repeat"] for r in runs)
    loads = [o["loadavg1"] for o in opens if "loadavg1" in o]
    if loads:
        meta["loadavg1_during"] = {"min": min(loads), "median": sorted(loads)[len(loads) // 2], "max": max(loads)}
    meta["merged_from"] = list(sources)
    summary = measure.Measure.summarise(opens, meta["protocols"], meta["contenders"], meta["floors"])
    with open(out, "w") as f:
        json.dump({"meta": meta, "summary": summary, "opens": opens}, f, indent=1)


def cell(row):
    if row is None:
        return "–"
    if row.get("p50_ms") is None:
        return "– %d✗" % row["n"] if row.get("n") else "–"
    text = "%.0f / %.0f" % (row["p50_ms"], row["p90_ms"])
    if row.get("p50_x_floor") is not None and row.get("floor_ms", 0) >= 50:
        text += " (%.1f / %.1f)" % (row["p50_x_floor"], row["p90_x_floor"])
    if row["ok"] < row["n"]:
        text += " %d✗" % (row["n"] - row["ok"])
    return text


def main(paths):
    results = [json.load(open(p)) for p in paths]
    profiles = [r["meta"]["rig"]["profile"] for r in results]
    print("| protocol | contender | " + " | ".join("%s p50 / p90 ms (× floor)" % p for p in profiles) + " |")
    print("|---|---|" + "---|" * len(results))
    keys = []
    for r in results:
        for row in r["summary"]:
            if (row["protocol"], row["contender"]) not in keys:
                keys.append((row["protocol"], row["contender"]))
    for protocol, contender in keys:
        cells = []
        for r in results:
            row = next((x for x in r["summary"] if x["protocol"] == protocol and x["contender"] == contender), None)
            cells.append(cell(row))
        print("| %s | %s | %s |" % (protocol, contender, " | ".join(cells)))
    print()
    for r, profile in zip(results, profiles):
        m = r["meta"]
        floors = ", ".join("%s %.0f" % (k, v["floor_ms"]) for k, v in m["floors"].items())
        load = m["loadavg1_during"]
        extra = ""
        if "process_start_ms" in m:
            extra = "; ffmpeg-cli process start + exit %.0f ms" % m["process_start_ms"]["median"]
        if "process_start_ms_mpv" in m:
            extra += "; mpv process start + exit %.0f ms" % m["process_start_ms_mpv"]["median"]
        print("- %s: floors (ms) %s; load average %.1f–%.1f (median %.1f)%s; %d rounds, started %s" % (
            profile, floors, load["min"], load["max"], load["median"], extra, m["repeat"], m["started"]))


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "--merge":
        merge(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "--slim":
        slim(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1:
        main(sys.argv[1:])
    else:
        sys.exit(__doc__)
