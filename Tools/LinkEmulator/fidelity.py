#!/usr/bin/env python3
"""Measures how faithful the link emulator is (issue 23): for each profile, inside a namespace set up by
scripts/netns-link.sh, compares what the kernel's TCP and ICMP actually see with what was set.

  - RTT: TCP connect time (SYN → SYN-ACK, 30 connects) and ping (20 echoes) to 127.0.0.2, min and median.
  - Rate: a 5 MB HTTP download (python3 -m http.server on 127.0.0.2, curl in the namespace), with the profile's loss
    set to 0 so that TCP can fill the link; compared with the set rate and with the TCP goodput ceiling
    (rate × 1448/1500: the emulator serialises whole IP packets, curl counts payload). Then the same download with
    the profile's loss (random loss keeps TCP below the rate; that is TCP, not the emulator).
  - Loss: 20000 UDP datagrams server→client counted by the receiver (end to end, independent of the emulator's own
    count), and the emulator's dropped_loss / packets_seen over everything the run sent, with a 95 % interval.
  - Slow start: a ~100 KB HTTP GET (7 runs, fresh connection each) against a round-based computation: handshake
    1 RTT, request → first flight 1 RTT, flights of 10, 20, 40 … segments of 1448 bytes (the response headers are
    one segment of the first flight), each flight taking max(RTT, its serialisation at the set rate).
  - CPU: the emulator's utime + stime (/proc/PID/stat) over the 8 Mbit/s download, and over an unlimited one.

Usage (root): make link-emulator && python3 Tools/LinkEmulator/fidelity.py [--quick] [--json FILE]
It prints a Markdown table (the one in Tools/LinkEmulator/README.md) and the raw figures as JSON.
"""
import argparse
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NETNS_LINK = os.path.join(REPO, "scripts", "netns-link.sh")
STATE = os.environ.get("NETNS_LINK_STATE", "/run/firstframe-link")
NAME = "ff-fidelity"
PORT = 8000
PROFILES = {  # rtt_ms, rate_kbit, loss_percent
    "lan": (0, 0, 0),
    "wifi": (20, 30000, 0),
    "4g": (60, 8000, 0.5),
    "weak": (150, 1500, 2),
}
MSS, MTU, IW = 1448, 1500, 10

CONNECT_PROBE = r"""
import socket, struct, sys, time, json
times, kernel = [], []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.settimeout(10)
    t = time.perf_counter()
    s.connect(("127.0.0.2", int(sys.argv[2])))
    times.append((time.perf_counter() - t) * 1000)
    # struct tcp_info: 8 bytes of u8 fields, then u32 rto, ato, snd_mss, rcv_mss, unacked, sacked, lost, retrans,
    # fackets, last_data_sent, last_ack_sent, last_data_recv, last_ack_recv, pmtu, rcv_ssthresh, rtt (µs).
    kernel.append(struct.unpack_from("I", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104), 68)[0] / 1000)
    s.close()
    time.sleep(0.05)
print(json.dumps({"connect": times, "tcpi_rtt": kernel}))
"""

STEADY_PROBE = r"""
import socket, sys, time, json
s = socket.create_connection(("127.0.0.2", int(sys.argv[1])), 10)
s.settimeout(60)
s.sendall(f"GET /{sys.argv[2]} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
head, total, length, mark = b"", 0, None, None
while True:
    chunk = s.recv(1 << 16)
    if not chunk:
        break
    if length is None:
        head += chunk
        if b"\r\n\r\n" not in head:
            continue
        headers, chunk = head.split(b"\r\n\r\n", 1)
        length = int([l for l in headers.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
    total += len(chunk)
    if mark is None and total >= length * float(sys.argv[3]):
        mark = (time.perf_counter(), total)
end = time.perf_counter()
assert total == length, (total, length)
print(json.dumps({"kbit": (total - mark[1]) * 8 / (end - mark[0]) / 1000, "bytes": total}))
"""

UDP_PROBE = r"""
import socket, sys, threading, time, json
count, rate_bps, size = int(sys.argv[1]), float(sys.argv[2]), 72
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root): above net.core.rmem_max
rx.bind(("127.0.0.1", 0))
rx.settimeout(2)
seen = set()
def receive():  # concurrently with the sender, so no datagram is lost to a full socket buffer
    try:
        while True:
            seen.add(int.from_bytes(rx.recv(2048)[:8], "big"))
    except socket.timeout:
        pass
receiver = threading.Thread(target=receive)
receiver.start()
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.bind(("127.0.0.2", 0))  # server -> client: the emulator's "down" direction
interval = (size + 28) * 8 / rate_bps
start = time.perf_counter()
for i in range(count):
    delay = start + i * interval - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    tx.sendto(i.to_bytes(8, "big") + bytes(size - 8), rx.getsockname())
receiver.join()
print(json.dumps({"sent": count, "received": len(seen)}))
"""


def run(*args, check=True, timeout=300, **kw):
    return subprocess.run(args, check=check, timeout=timeout, text=True, capture_output=True, **kw)


def ns(*args, **kw):
    return run("ip", "netns", "exec", NAME, *args, **kw)


def emulator_pid():
    try:
        return int(open(os.path.join(STATE, NAME + ".pid")).read())
    except OSError:
        return None


def cpu_seconds(pid):
    if pid is None:
        return 0.0
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stats():
    pid = emulator_pid()
    if pid is None:
        return None
    path = os.path.join(STATE, NAME + ".stats.json")
    before = os.stat(path).st_mtime_ns if os.path.exists(path) else 0
    os.kill(pid, signal.SIGUSR1)
    for _ in range(100):
        if os.path.exists(path) and os.stat(path).st_mtime_ns != before:
            break
        time.sleep(0.02)
    return json.load(open(path))


def up(profile, **overrides):
    args = [NETNS_LINK, "up", NAME, "--profile", profile]
    for key, value in overrides.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    run(*args)


def down():
    run(NETNS_LINK, "down", NAME, check=False)


def start_server(directory):
    server = subprocess.Popen(
        ["ip", "netns", "exec", NAME, "python3", "-m", "http.server", "--bind", "127.0.0.2", str(PORT),
         "--directory", directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):  # the listener exists once a connect succeeds (crossing the emulated link)
        if ns("python3", "-c", f"import socket; socket.create_connection(('127.0.0.2', {PORT}), 5)",
              check=False).returncode == 0:
            return server
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("http.server did not start")


def curl(path, timeout=300):
    out = ns("curl", "-sS", "--max-time", str(timeout), "-o", "/dev/null", "-w",
             "%{time_connect} %{time_starttransfer} %{time_total} %{size_download}",
             f"http://127.0.0.2:{PORT}/{path}", timeout=timeout + 10).stdout.split()
    connect, ttfb, total, size = (float(x) for x in out)
    return {"connect_ms": connect * 1000, "ttfb_ms": ttfb * 1000, "total_ms": total * 1000, "bytes": int(size),
            "goodput_kbit": size * 8 / total / 1000,
            "transfer_kbit": size * 8 / (total - ttfb) / 1000 if total > ttfb else None}


def connect_rtts(count=30):
    return json.loads(ns("python3", "-c", CONNECT_PROBE, str(count), str(PORT), timeout=120).stdout)


def steady_rate(path, skip_fraction=0.3):
    """kbit/s of an HTTP download after its first 30 % (slow start and the handshake excluded)."""
    return json.loads(ns("python3", "-c", STEADY_PROBE, str(PORT), path, str(skip_fraction), timeout=600).stdout)


def ping_rtts(count=20):
    # -U: user-to-user time. By default ping reports the kernel's receive timestamp of the reply, taken when the
    # reply enters lo, before PREROUTING and so before the emulator delays it: it would show half the RTT.
    out = ns("ping", "-U", "-n", "-c", str(count), "-i", "0.2", "-W", "5", "127.0.0.2", check=False, timeout=120).stdout
    return [float(x) for x in re.findall(r"time=([\d.]+) ms", out)]


def slow_start_model(body_bytes, rtt_ms, rate_kbit):
    """Round-based slow start: returns (time to first byte, time to last byte) in ms from the connect."""
    ser = (lambda n: n * MTU * 8 / rate_kbit) if rate_kbit else (lambda n: 0.0)  # ms for n packets
    remaining = 1 + math.ceil(body_bytes / MSS)  # the response headers are one segment
    total, window = 2 * rtt_ms, IW  # handshake + request → first flight
    while True:
        flight = min(window, remaining)
        remaining -= flight
        if remaining == 0:
            total += ser(flight)
            break
        total += max(rtt_ms, ser(flight))
        window *= 2
    return 2 * rtt_ms + ser(1), total


def binomial_ci(k, n):
    """Wilson 95 % interval, in percent."""
    if n == 0:
        return (0.0, 0.0)
    z, p = 1.96, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (100 * max(0.0, centre - half), 100 * (centre + half))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer samples, 1 MB instead of 5 MB")
    parser.add_argument("--json", help="write the raw figures here")
    parser.add_argument("--profiles", default="lan,wifi,4g,weak")
    options = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("fidelity.py: needs root (network namespaces)")
    big = 1 << 20 if options.quick else 5 << 20
    samples = 3 if options.quick else 7
    directory = tempfile.mkdtemp(prefix="ff-fidelity-")
    with open(os.path.join(directory, "big.bin"), "wb") as f:
        f.write(os.urandom(big))
    with open(os.path.join(directory, "ceiling.bin"), "wb") as f:
        f.write(os.urandom(50 << 20))
    with open(os.path.join(directory, "100k.bin"), "wb") as f:
        f.write(os.urandom(102400))
    default_cc = open("/proc/sys/net/ipv4/tcp_congestion_control").read().strip()  # a new namespace inherits it
    results = {"load_average_at_start": os.getloadavg(), "big_bytes": big, "default_cc": default_cc, "profiles": {}}
    try:
        for profile in options.profiles.split(","):
            rtt, rate, loss = PROFILES[profile]
            r = results["profiles"][profile] = {"set": {"rtt_ms": rtt, "rate_kbit": rate, "loss_percent": loss}}
            print(f"== {profile}", file=sys.stderr)

            # 1. RTT, rate (loss 0 so TCP can fill the link), CPU at this rate.
            up(profile, loss=0, seed=1)
            server = start_server(directory)
            try:
                probe = connect_rtts(10 if options.quick else 30)
                r["connect_ms"], r["tcpi_rtt_ms"] = probe["connect"], probe["tcpi_rtt"]
                r["ping_ms"] = ping_rtts(10 if options.quick else 20)
                pid = emulator_pid()
                cpu0, t0 = cpu_seconds(pid), time.monotonic()
                r["download_no_loss"] = curl("big.bin")
                r["emulator_cpu_percent"] = 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) if pid else None
                s = stats()
                if s:
                    packets = s["up"]["packets_seen"] + s["down"]["packets_seen"]
                    r["emulator_us_per_packet"] = 1e6 * cpu_seconds(pid) / packets if packets else None
                    r["emulator_packets"] = packets
                    r["release_lateness_us"] = {d: s[d]["release_lateness_us"] for d in ("up", "down")}
                    r["queue_drops_no_loss"] = s["up"]["dropped_queue"] + s["down"]["dropped_queue"]
                    r["kernel_no_loss"] = s["kernel"]
                r["steady_no_loss"] = steady_rate("big.bin")
                r["get_100k_no_loss"] = [curl("100k.bin") for _ in range(samples)]
            finally:
                server.kill()
                server.wait()
                down()

            # 2. The profile as set (with its loss): the download, the 100 KB GET, the loss rate.
            if loss:
                up(profile, seed=1)
                server = start_server(directory)
                try:
                    r["download"] = curl("big.bin", timeout=600)
                    s = stats()
                    r["max_backlog_packets"] = {d: s[d]["max_backlog_packets"] for d in ("up", "down")}
                    r["get_100k"] = [curl("100k.bin") for _ in range(samples)]
                    udp_count = 4000 if options.quick else 20000
                    r["udp"] = json.loads(ns("python3", "-c", UDP_PROBE, str(udp_count), str(rate * 1000 * 0.5),
                                             timeout=600).stdout)
                    s = stats()
                    seen = s["up"]["packets_seen"] + s["down"]["packets_seen"]
                    dropped = s["up"]["dropped_loss"] + s["down"]["dropped_loss"]
                    r["emulator_loss"] = {"seen": seen, "dropped": dropped, "percent": 100 * dropped / seen,
                                          "ci95": binomial_ci(dropped, seen),
                                          "up": s["up"]["loss_rate_percent"], "down": s["down"]["loss_rate_percent"]}
                    u = r["udp"]
                    lost = u["sent"] - u["received"]
                    r["udp"]["percent"] = 100 * lost / u["sent"]
                    r["udp"]["ci95"] = binomial_ci(lost, u["sent"])
                finally:
                    server.kill()
                    server.wait()
                    down()

            # 3. Slow start under cubic as well (the namespace's default here is the kernel's, bbr on this machine),
            # and cubic's throughput under the profile's random loss.
            if rtt:
                up(profile, loss=0, seed=1, cc="cubic")
                server = start_server(directory)
                try:
                    r["get_100k_no_loss_cubic"] = [curl("100k.bin") for _ in range(samples)]
                finally:
                    server.kill()
                    server.wait()
                    down()
            if loss:
                up(profile, seed=1, cc="cubic")
                server = start_server(directory)
                try:
                    r["download_cubic"] = curl("big.bin", timeout=600)
                finally:
                    server.kill()
                    server.wait()
                    down()
            r["model_100k_ms"] = dict(zip(("ttfb", "total"), slow_start_model(102400, rtt, rate)))
        # 4. The emulator's ceiling: no delay, no rate limit.
        print("== ceiling", file=sys.stderr)
        run(NETNS_LINK, "up", NAME, "--rtt-ms", "0.001")
        server = start_server(directory)
        try:
            pid = emulator_pid()
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            results["ceiling"] = curl("ceiling.bin")
            results["ceiling"]["emulator_cpu_percent"] = 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
            s = stats()
            packets = s["up"]["packets_seen"] + s["down"]["packets_seen"]
            results["ceiling"]["emulator_us_per_packet"] = 1e6 * cpu_seconds(pid) / packets
        finally:
            server.kill()
            server.wait()
            down()
    finally:
        down()
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        os.rmdir(directory)
    results["load_average_at_end"] = os.getloadavg()
    if options.json:
        with open(options.json, "w") as f:
            json.dump(results, f, indent=1)
    print_table(results)


def med(values):
    return statistics.median(values) if values else float("nan")


def print_table(results):
    size = f"{results['big_bytes'] >> 20} MB"
    print(f"| profile | set RTT | TCP connect min / median | tcpi_rtt median | ping -U min / median | set rate | "
          f"{size} goodput, loss 0 (ceiling) | steady rate, loss 0 | {size} goodput with loss, "
          f"{results['default_cc']} / cubic | set loss | "
          f"loss measured: UDP / emulator (95 % CI) | emulator CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results["profiles"].items():
        s = r["set"]
        c, p = r["connect_ms"], r["ping_ms"]
        ceiling = s["rate_kbit"] * MSS / MTU
        row = [name, f"{s['rtt_ms']} ms", f"{min(c):.2f} / {med(c):.2f} ms", f"{med(r['tcpi_rtt_ms']):.2f} ms",
               f"{min(p):.2f} / {med(p):.2f} ms" if p else "n/a",
               f"{s['rate_kbit']} kbit/s" if s["rate_kbit"] else "unlimited",
               f"{r['download_no_loss']['goodput_kbit']:.0f} kbit/s" + (f" ({ceiling:.0f})" if ceiling else ""),
               f"{r['steady_no_loss']['kbit']:.0f} kbit/s",
               f"{r['download']['goodput_kbit']:.0f} / {r['download_cubic']['goodput_kbit']:.0f} kbit/s"
               if "download" in r else "–",
               f"{s['loss_percent']} %"]
        if "udp" in r:
            u, e = r["udp"], r["emulator_loss"]
            row.append(f"{u['percent']:.2f} % ({u['ci95'][0]:.2f}–{u['ci95'][1]:.2f}) / "
                       f"{e['percent']:.2f} % ({e['ci95'][0]:.2f}–{e['ci95'][1]:.2f})")
        else:
            row.append("–")
        cpu = r.get("emulator_cpu_percent")
        row.append(f"{cpu:.1f} %" if cpu is not None else "–")
        print("| " + " | ".join(row) + " |")
    print()
    print("| profile | 100 KB GET | model TTFB / total | measured TTFB / total, median (min) |")
    print("|---|---|---|---|")
    for name, r in results["profiles"].items():
        model = r["model_100k_ms"]
        cc = results["default_cc"]
        for key, label in (("get_100k_no_loss", f"loss 0, {cc}"), ("get_100k_no_loss_cubic", "loss 0, cubic"),
                           ("get_100k", f"profile's loss, {cc}")):
            if key not in r:
                continue
            runs = r[key]
            t = [x["ttfb_ms"] for x in runs]
            total = [x["total_ms"] for x in runs]
            print(f"| {name} | {label} | {model['ttfb']:.0f} / {model['total']:.0f} ms | "
                  f"{med(t):.0f} / {med(total):.0f} ms ({min(t):.0f} / {min(total):.0f}) |")
    if "ceiling" in results:
        c = results["ceiling"]
        print(f"\nceiling (RTT 0.001 ms, no rate limit, 50 MB): {c['goodput_kbit'] / 1000:.0f} Mbit/s, "
              f"emulator CPU {c['emulator_cpu_percent']:.0f} % of one core, "
              f"{c['emulator_us_per_packet']:.1f} µs CPU per packet")
    print(f"\nload average: {results['load_average_at_start']} → {results['load_average_at_end']}")


if __name__ == "__main__":
    main()
