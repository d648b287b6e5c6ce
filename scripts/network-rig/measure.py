#!/usr/bin/env python3
"""First-picture times on the network rig (issue 23), every contender interleaved round by round.

  measure.py NAME [--repeat 10] [--contenders instant,ffmpeg,ijkplayer,ffmpeg-tuned,mpv,ffmpeg-cli]
             [--protocols flv,https,hls,rtmp,listen] [--binary /work/before/firstframe-release] [--timeout 15]
             [--tuned-open .build/tuned-open] [--pause 1.0] [--process-start-samples 5] [--out FILE.json] [--seed 1]

NAME is a rig brought up by `rig.py up NAME --profile P`; its profile (RTT, rate, loss) comes from the rig's
rig.json. Each round opens every protocol's URL once with every contender, in an order shuffled per round (seeded):

- `instant`, `ffmpeg`, `ijkplayer`: `ip netns exec NAME BINARY probe URL --preset P --json --timeout T`
  (`--set caFile=CA` with the rig's CA for every URL, so that HTTPS verifies where the preset verifies); the first
  picture is the report's `milestones.firstVideoFrameMs` (the open's own clock: no process start);
- `ffmpeg-cli`: stock `ffmpeg -hide_banner -nostdin -i URL -frames:v 1 -f null -` (no TLS verification: its
  default), timed from before `ip netns exec` to its exit: process start and exit included. The same wrapper around
  an `ffmpeg` that opens nothing (lavfi, one 16×16 frame) is timed `--process-start-samples` times first: that is
  the process start + exit share of every `ffmpeg-cli` figure, printed with the table.
- `ffmpeg-tuned`: `Tools/TunedOpen/tuned-open` (`make tuned-open`), stock FFmpeg with a C developer's start-up tuning
  (small probe, no frame-rate probing, tcp_nodelay, no parallel HLS fetch, a low-delay one-thread decoder), TLS
  verified with the rig's CA; the first picture on its own clock, from just before avformat_open_input;
- `mpv`: `mpv --no-config --profile=low-latency --untimed --vo=null --ao=null --frames=1 URL` (no TLS verification,
  its default), timed like `ffmpeg-cli`; an open succeeds only if mpv configured its video output (a picture
  reached it). Its process start + exit is timed the same way (an mpv playing one lavfi frame).

The `listen` URL (`ffmpeg -listen 1`) serves one viewer per run: the rig restarts it before each of its opens.

Floor of an open (DESIGN.md, "Emulating a real link"): round trips × RTT + the first keyframe's bytes under slow
start (initial window 10 segments of 1448 bytes, doubling per round trip, each flight max(RTT, its serialisation at
1500-byte packets), the last one its serialisation) + one decode (the median `decode` of this run's `instant` reports,
else --decode-ms), + GOP/2 on RTMP (nginx-rtmp has no GOP cache). Round trips: DNS 1 + TCP 1 + (TLS 1.3 1) + request
1 for HTTP-FLV; DNS 1 + TCP 1 + playlist 1 + segment 1 for HLS; DNS 1 + TCP 1 + handshake 1 + connect 1 +
createStream 1 + play 1 for RTMP. Keyframe bytes: the origin's parsed stream (FLV tag of the latest keyframes, plus
what the burst sends before it) and ffprobe on the HLS segments on disk (bytes from the segment's start to the end of
its first keyframe). The floor without slow start (bytes ÷ rate) is in the JSON too.
Prints p50/p90 and ×floor per protocol × contender; writes every open and the summary to --out.
"""
import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rig as rigmod  # noqa: E402

PRESETS = ("instant", "ffmpeg", "ijkplayer", "fieldReport")
TOOLS = ("ffmpeg-cli", "ffmpeg-tuned", "mpv")  # contenders that are not a firstframe preset
MPV = ["mpv", "--no-config", "--profile=low-latency", "--untimed", "--vo=null", "--ao=null", "--frames=1"]
ROUND_TRIPS = {  # before the first media byte, per DESIGN.md
    "flv": {"dns": 1, "tcp": 1, "request": 1},
    "https": {"dns": 1, "tcp": 1, "tls13": 1, "request": 1},
    "hls": {"dns": 1, "tcp": 1, "playlist": 1, "segment": 1},
    "rtmp": {"dns": 1, "tcp": 1, "handshake": 1, "connect": 1, "createStream": 1, "play": 1},
    "listen": {"dns": 1, "tcp": 1, "request": 1},
}
HTTP_RESPONSE_HEADER_BYTES = {"flv": 130, "https": 200, "hls": 250, "listen": 110, "rtmp": 0}
MSS, PACKET, INITIAL_WINDOW = 1448, 1500, 10


def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    values = sorted(values)
    position = (len(values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


def transfer_ms(nbytes, rtt_ms, rate_kbit, slow_start=True):
    """Time from the first byte of a response to the end of byte `nbytes` on a fresh connection."""
    if rate_kbit <= 0 and rtt_ms <= 0:
        return 0.0
    serialise = PACKET * 8 / rate_kbit if rate_kbit > 0 else 0.0  # ms per packet
    segments = math.ceil(nbytes / MSS)
    if not slow_start:
        return segments * serialise
    elapsed, window = 0.0, INITIAL_WINDOW
    while segments > window:
        elapsed += max(rtt_ms, window * serialise)
        segments -= window
        window *= 2
    return elapsed + segments * serialise


def hls_keyframe_bytes(hls_dir):
    """Median, over the segments on disk, of the bytes from a segment's start to the end of its first keyframe."""
    sizes = []
    try:
        playlist = open(os.path.join(hls_dir, "room.m3u8")).read().split()
    except OSError:
        return None
    for name in [line for line in playlist if line.endswith(".ts")]:
        result = subprocess.run(["ffprobe", "-v", "error", "-read_intervals", "%+#40", "-show_entries",
                                 "packet=stream_index,pos,size,flags", "-of", "json",
                                 os.path.join(hls_dir, name)], capture_output=True, text=True)
        try:
            packets = json.loads(result.stdout)["packets"]
            streams = json.loads(subprocess.run(
                ["ffprobe", "-v", "error", "-show_entries", "stream=index,codec_type", "-of", "json",
                 os.path.join(hls_dir, name)], capture_output=True, text=True).stdout)["streams"]
        except (ValueError, KeyError):
            continue
        video = {s["index"] for s in streams if s.get("codec_type") == "video"}
        positioned = [p for p in packets if p.get("pos") not in (None, "N/A")]
        key = next((p for p in positioned if p["stream_index"] in video and "K" in p.get("flags", "")), None)
        if key is None:
            continue
        after = [int(p["pos"]) for p in positioned if int(p["pos"]) > int(key["pos"])]
        sizes.append(min(after) if after else int(key["pos"]) + int(key["size"]) * 188 // 184)
    return int(statistics.median(sizes)) if sizes else None


def floors(state, keyframe, decode_ms):
    """Per protocol: round trips, bytes to the end of the first keyframe, floor with and without slow start."""
    rtt, rate = float(state["rtt_ms"]), float(state["rate_kbit"])
    gop_ms = 1000.0 * state.get("gop_frames", 50) / state.get("fps", 25)
    out = {}
    for protocol, trips in ROUND_TRIPS.items():
        if protocol == "hls":
            nbytes = keyframe.get("hls_bytes")
        else:
            nbytes = keyframe.get("flv_bytes")
            if nbytes is not None and protocol == "rtmp":
                nbytes = keyframe["flv_keyframe_tag_bytes"] + 12  # an RTMP message of the tag's data
        if nbytes is None:
            continue
        nbytes += HTTP_RESPONSE_HEADER_BYTES[protocol]
        round_trips = sum(trips.values())
        wait = gop_ms / 2 if protocol == "rtmp" else 0.0
        base = round_trips * rtt + wait + decode_ms
        out[protocol] = {
            "round_trips": round_trips, "round_trip_parts": trips, "bytes": nbytes, "keyframe_wait_ms": wait,
            "decode_ms": decode_ms,
            "transfer_ms": round(transfer_ms(nbytes, rtt, rate), 1),
            "transfer_no_slow_start_ms": round(transfer_ms(nbytes, rtt, rate, slow_start=False), 1),
            "floor_ms": round(base + transfer_ms(nbytes, rtt, rate), 1),
            "floor_no_slow_start_ms": round(base + transfer_ms(nbytes, rtt, rate, slow_start=False), 1),
        }
    return out


class Measure:
    def __init__(self, args):
        self.args = args
        self.rig = rigmod.Rig(args.name)
        self.state = self.rig.state()
        if self.state is None:
            sys.exit("measure: rig %s is not up (scripts/network-rig/rig.py up %s --profile P)" % (args.name,
                                                                                                  args.name))
        self.urls = rigmod.urls()

    def netns(self, argv):
        return ["ip", "netns", "exec", self.args.name] + argv

    def process_start(self, tool):
        if tool == "mpv":
            argv = MPV + ["av://lavfi:color=s=16x16:r=25"]
        else:
            argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "color=s=16x16:r=25", "-frames:v", "1", "-f", "null", "-"]
        samples = []
        for _ in range(self.args.process_start_samples):
            start = time.monotonic()
            subprocess.run(self.netns(argv), capture_output=True)
            samples.append((time.monotonic() - start) * 1000)
            time.sleep(0.2)
        return samples

    def open_probe(self, url, preset):
        argv = self.netns([self.args.binary, "probe", url, "--preset", preset, "--json",
                           "--timeout", str(self.args.timeout), "--set", "caFile=" + self.state["ca"]])
        start = time.monotonic()
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=self.args.timeout + 15)
        except subprocess.TimeoutExpired:
            return {"outcome": "killed", "wall_ms": (time.monotonic() - start) * 1000}
        wall = (time.monotonic() - start) * 1000
        line = next((l for l in result.stdout.splitlines() if l.startswith("{")), None)
        if line is None:
            return {"outcome": "no-report", "rc": result.returncode, "wall_ms": wall,
                    "stderr": result.stderr[-500:]}
        report = json.loads(line)
        entry = {"outcome": report.get("outcome"), "rc": result.returncode, "wall_ms": wall,
                 "first_picture_ms": (report.get("milestones") or {}).get("firstVideoFrameMs"),
                 "error": report.get("error")}
        if report.get("outcome") != "ok":
            entry["first_picture_ms"] = None
        causes = report.get("causes") or {}
        entry["causes_ms"] = causes.get("totalsMs")
        entry["keyframe_arrival"] = causes.get("keyframeArrival")
        entry["cause_spans"] = causes.get("spans")
        entry["stages_ms"] = {s["name"]: round(s["endMs"] - s["startMs"], 3) for s in report.get("stages", [])}
        entry["advice"] = report.get("advice")
        hops = report.get("hops") or []
        entry["hops"] = len(hops)
        entry["connects"] = sum(len(h.get("connects") or []) for h in hops)
        entry["reused"] = sum(1 for h in hops if h.get("reusedConnection"))
        entry["dns_lookups"] = sum(1 for h in hops if h.get("dns"))
        entry["milestones"] = report.get("milestones")
        entry["first_picture_decode"] = report.get("firstPictureDecode")
        entry["report"] = report if self.args.keep_reports else None
        return entry

    def open_ffmpeg_cli(self, url):
        argv = self.netns(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", url, "-frames:v", "1",
                           "-f", "null", "-"])
        start = time.monotonic()
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=self.args.timeout)
        except subprocess.TimeoutExpired:
            return {"outcome": "timeout", "wall_ms": (time.monotonic() - start) * 1000, "first_picture_ms": None}
        wall = (time.monotonic() - start) * 1000
        ok = result.returncode == 0
        return {"outcome": "ok" if ok else "failed", "rc": result.returncode, "wall_ms": wall,
                "first_picture_ms": wall if ok else None, "stderr": result.stderr[-500:] if not ok else None}

    def open_tuned(self, url):
        argv = self.netns([self.args.tuned_open, "--timeout", str(self.args.timeout), "--ca-file", self.state["ca"],
                           url])
        start = time.monotonic()
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=self.args.timeout + 15)
        except subprocess.TimeoutExpired:
            return {"outcome": "killed", "wall_ms": (time.monotonic() - start) * 1000, "first_picture_ms": None}
        wall = (time.monotonic() - start) * 1000
        line = next((l for l in result.stdout.splitlines() if l.startswith("{")), None)
        if line is None:
            return {"outcome": "no-report", "rc": result.returncode, "wall_ms": wall, "first_picture_ms": None,
                    "stderr": result.stderr[-500:]}
        report = json.loads(line)
        ok = report.get("outcome") == "ok"
        return {"outcome": report.get("outcome"), "rc": result.returncode, "wall_ms": wall,
                "first_picture_ms": report.get("first_picture_ms") if ok else None,
                "stages_ms": {k: report[k] for k in ("open_input_ms", "stream_info_ms") if k in report},
                "error": None if ok else "%s: %s" % (report.get("stage"), report.get("error"))}

    def open_mpv(self, url):
        start = time.monotonic()
        try:
            result = subprocess.run(self.netns(MPV + [url]), capture_output=True, text=True,
                                    timeout=self.args.timeout)
        except subprocess.TimeoutExpired:
            return {"outcome": "timeout", "wall_ms": (time.monotonic() - start) * 1000, "first_picture_ms": None}
        wall = (time.monotonic() - start) * 1000
        # mpv exits 0 at "End of file" whether or not a picture came; "VO: [null] WxH" says one reached the output.
        pictured = result.returncode == 0 and "VO: [" in result.stdout + result.stderr
        outcome = "ok" if pictured else ("no-picture" if result.returncode == 0 else "failed")
        return {"outcome": outcome, "rc": result.returncode, "wall_ms": wall,
                "first_picture_ms": wall if pictured else None,
                "stderr": None if pictured else (result.stdout + result.stderr)[-500:]}

    def run(self):
        args = self.args
        contenders = args.contenders.split(",")
        protocols = args.protocols.split(",")
        for c in contenders:
            if c not in PRESETS + TOOLS:
                sys.exit("measure: unknown contender %r (%s)" % (c, ", ".join(PRESETS + TOOLS)))
        if "ffmpeg-tuned" in contenders and not os.access(args.tuned_open, os.X_OK):
            sys.exit("measure: %s is not built (make tuned-open)" % args.tuned_open)
        for p in protocols:
            if p not in self.urls:
                sys.exit("measure: unknown protocol %r (%s)" % (p, ", ".join(self.urls)))
        rng = random.Random(args.seed)
        meta = {"rig": self.state, "binary": args.binary, "repeat": args.repeat, "contenders": contenders,
                "protocols": protocols, "timeout_s": args.timeout, "started": time.strftime("%FT%T%z"),
                "loadavg_start": os.getloadavg(), "command": " ".join(sys.argv)}
        for tool, key in (("ffmpeg-cli", "process_start_ms"), ("mpv", "process_start_ms_mpv")):
            if tool in contenders and args.process_start_samples:
                samples = self.process_start(tool)
                meta[key] = {"samples": [round(s, 1) for s in samples],
                             "median": round(statistics.median(samples), 1)}
                print("process start + exit of `ip netns exec … %s` (lavfi, nothing opened): median %.0f ms of %d"
                      % (tool.split("-")[0], meta[key]["median"], len(samples)), flush=True)
        opens = []
        pairs = [(p, c) for p in protocols for c in contenders]
        for round_index in range(args.repeat):
            order = pairs[:]
            rng.shuffle(order)
            for protocol, contender in order:
                if protocol == "listen":
                    try:
                        self.rig.restart_listen()
                    except SystemExit as error:
                        print("restart-listen failed: %s" % error, flush=True)
                url = self.urls[protocol]
                load = os.getloadavg()[0]
                if contender == "ffmpeg-cli":
                    entry = self.open_ffmpeg_cli(url)
                elif contender == "ffmpeg-tuned":
                    entry = self.open_tuned(url)
                elif contender == "mpv":
                    entry = self.open_mpv(url)
                else:
                    entry = self.open_probe(url, contender)
                entry.update({"round": round_index, "protocol": protocol, "contender": contender, "url": url,
                              "loadavg1": load, "t": round(time.time(), 3)})
                opens.append(entry)
                fp = entry.get("first_picture_ms")
                print("round %d %-6s %-10s %8s ms  %s  load %.1f" % (
                    round_index + 1, protocol, contender, "%.0f" % fp if fp is not None else "-",
                    entry.get("outcome"), load), flush=True)
                time.sleep(args.pause)
        meta["loadavg_end"] = os.getloadavg()
        loads = [o["loadavg1"] for o in opens]
        meta["loadavg1_during"] = {"min": min(loads), "median": statistics.median(loads), "max": max(loads)}

        keyframe = self.keyframe_bytes()
        meta["keyframe"] = keyframe
        decodes = [o["causes_ms"]["decode"] for o in opens
                   if o["contender"] == "instant" and o.get("first_picture_ms") is not None and o.get("causes_ms")]
        decode_ms = round(statistics.median(decodes), 1) if decodes else args.decode_ms
        meta["decode_ms"] = {"value": decode_ms, "source": "median instant decode" if decodes else "--decode-ms"}
        floor = floors(self.state, keyframe, decode_ms)
        meta["floors"] = floor
        summary = self.summarise(opens, protocols, contenders, floor)
        result = {"meta": meta, "summary": summary, "opens": opens}
        if args.out:
            with open(args.out, "w") as f:
                json.dump(result, f, indent=1)
        self.print_table(meta, summary)
        if args.out:
            print("results: %s" % args.out)

    def keyframe_bytes(self):
        status = self.rig.origin_status() or {}
        out = {"origin_status": status}
        tag = status.get("keyframe_data_bytes_median")
        if tag is not None:
            out["flv_keyframe_tag_bytes"] = tag + 15  # tag header 11 + PreviousTagSize 4
            out["flv_bytes"] = status.get("burst_prefix_bytes", 0) + tag + 15
        out["hls_bytes"] = hls_keyframe_bytes(self.rig.hls)
        return out

    @staticmethod
    def summarise(opens, protocols, contenders, floor):
        summary = []
        for protocol in protocols:
            for contender in contenders:
                group = [o for o in opens if o["protocol"] == protocol and o["contender"] == contender]
                times = [o["first_picture_ms"] for o in group if o.get("first_picture_ms") is not None]
                row = {"protocol": protocol, "contender": contender, "n": len(group), "ok": len(times),
                       "p50_ms": percentile(times, 0.5), "p90_ms": percentile(times, 0.9),
                       "min_ms": min(times) if times else None, "max_ms": max(times) if times else None,
                       "failures": sorted({str(o.get("outcome")) for o in group
                                           if o.get("first_picture_ms") is None})}
                f = floor.get(protocol)
                if f and times and f["floor_ms"] > 0:
                    row["floor_ms"] = f["floor_ms"]
                    row["p50_x_floor"] = row["p50_ms"] / f["floor_ms"]
                    row["p90_x_floor"] = row["p90_ms"] / f["floor_ms"]
                    row["p50_x_floor_no_slow_start"] = row["p50_ms"] / f["floor_no_slow_start_ms"]
                causes = [o["causes_ms"] for o in group if o.get("causes_ms") and o.get("first_picture_ms")]
                if causes:
                    row["causes_p50_ms"] = {k: round(statistics.median(c[k] for c in causes), 1)
                                            for k in causes[0]}
                summary.append(row)
        return summary

    @staticmethod
    def print_table(meta, summary):
        state = meta["rig"]
        print()
        print("profile %s: RTT %s ms, %s kbit/s, loss %s %%; load average (1 min) during the run %.1f–%.1f "
              "(median %.1f)" % (state["profile"], state["rtt_ms"], state["rate_kbit"], state["loss_pct"],
                                 meta["loadavg1_during"]["min"], meta["loadavg1_during"]["max"],
                                 meta["loadavg1_during"]["median"]))
        for protocol, f in meta["floors"].items():
            print("floor %-6s %6.0f ms = %d RTT + %s B in %.0f ms%s + decode %.0f ms (no slow start: %.0f ms)" % (
                protocol, f["floor_ms"], f["round_trips"], f["bytes"], f["transfer_ms"],
                " + keyframe wait %.0f ms" % f["keyframe_wait_ms"] if f["keyframe_wait_ms"] else "",
                f["decode_ms"], f["floor_no_slow_start_ms"]))
        if "process_start_ms" in meta:
            print("ffmpeg-cli includes process start + exit: median %.0f ms" % meta["process_start_ms"]["median"])
        if "process_start_ms_mpv" in meta:
            print("mpv includes process start + exit: median %.0f ms" % meta["process_start_ms_mpv"]["median"])
        print()
        print("| protocol | contender | ok/n | p50 ms | p90 ms | p50 × floor | p90 × floor |")
        print("|---|---|---|---|---|---|---|")
        for row in summary:
            def fmt(value, pattern):
                return pattern % value if value is not None else "–"
            print("| %s | %s | %d/%d | %s | %s | %s | %s |" % (
                row["protocol"], row["contender"], row["ok"], row["n"], fmt(row["p50_ms"], "%.0f"),
                fmt(row["p90_ms"], "%.0f"), fmt(row.get("p50_x_floor"), "%.2f"), fmt(row.get("p90_x_floor"), "%.2f")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--contenders", default="instant,ffmpeg,ijkplayer,ffmpeg-tuned,mpv,ffmpeg-cli")
    parser.add_argument("--protocols", default="flv,https,hls,rtmp,listen")
    parser.add_argument("--binary", default="/work/before/firstframe-release")
    parser.add_argument("--timeout", type=float, default=15)
    parser.add_argument("--tuned-open", default=os.path.join(rigmod.REPO, ".build", "tuned-open"),
                        help="the ffmpeg-tuned contender's binary (default: .build/tuned-open, `make tuned-open`)")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between opens (default 1)")
    parser.add_argument("--process-start-samples", type=int, default=5)
    parser.add_argument("--decode-ms", type=float, default=10.0,
                        help="one decode, when no instant report gives it (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the per-round order")
    parser.add_argument("--keep-reports", action="store_true", help="keep each full probe report in the JSON")
    parser.add_argument("--out", help="write results here (JSON)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("measure: needs root (ip netns exec)")
    Measure(args).run()


if __name__ == "__main__":
    main()
