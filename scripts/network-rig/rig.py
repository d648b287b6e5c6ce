#!/usr/bin/env python3
"""The network rig (issue 23): real servers behind an emulated link, in one network namespace.

  rig.py up NAME [--profile lan|wifi|4g|weak|custom] [--rtt-ms X] [--rate-kbit R] [--loss P] [--seed S] [--queue-ms MS]
                 [--cc ALGO] [--dns-cold-ms 0] [--dns-aaaa-ms 300] [--dns-ttl 60] [--video-kbit 1200]
                 [--x264-preset veryfast] [--origin-burst one-write|per-tag] [--origin-body close|chunked]
  rig.py down NAME
  rig.py status NAME [--json]
  rig.py restart-listen NAME        a fresh `ffmpeg -listen 1` (it serves one viewer, then exits)

`up` brings up the namespace and its link emulator (scripts/netns-link.sh), then starts inside it, each bound to
127.0.0.2 (the emulator's server address), and waits until each answers:

  port  what                                                    emulated?
  53    slow_dns.py: edge.test A 127.0.0.2, AAAA NODATA late    yes (UDP, both ways)
  1935  nginx-rtmp, for viewers (RTMP play)                     yes
  1936  nginx-rtmp, ingest: the publisher and the two pulls      no: --exempt-port 1936 (the edge's own ingest)
  8080  nginx HTTP: HLS from nginx-rtmp, /hls/room.m3u8         yes
  8081  flv_gop_origin.py: HTTP-FLV with a GOP cache            yes
  8443  nginx TLS (edge.test), proxy_buffering off → the origin yes; nginx → origin over a Unix socket (not on lo)
  8082  ffmpeg -listen 1: HTTP-FLV, one viewer per run          yes

and a publisher: ffmpeg -re testsrc2 1280x720 25 fps + sine → libx264 (x264's default B-frames, GOP 50 = 2 s,
~1.2 Mbit/s) + AAC → rtmp://127.0.0.2:1936/live/room. Clients run with `ip netns exec NAME …`; they resolve
edge.test through /etc/netns/NAME/resolv.conf (nameserver 127.0.0.2), bind-mounted by `ip netns exec`;
/etc/netns/NAME/hosts lists only localhost. Run directory: /run/firstframe-rig/NAME (configs, pidfiles, logs, HLS,
tls/ca.pem). Needs root, ffmpeg, nginx-light + libnginx-mod-rtmp, openssl, iproute2, iptables and the built
emulator (`make link-emulator`).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NETNS_LINK = os.path.join(REPO, "scripts", "netns-link.sh")
RUN_ROOT = os.environ.get("FIRSTFRAME_RIG_RUN", "/run/firstframe-rig")
SERVER = "127.0.0.2"
HOST = "edge.test"
PORTS = {"dns": 53, "rtmp": 1935, "ingest": 1936, "hls": 8080, "flv": 8081, "listen": 8082, "https": 8443}
PROFILES = {"lan": (0, 0, 0), "wifi": (20, 30000, 0), "4g": (60, 8000, 0.5), "weak": (150, 1500, 2)}
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
# The order servers start in; `down` stops them in reverse.
SERVICES = ["dns", "nginx", "publisher", "origin", "listen"]


def urls(host=HOST):
    return {
        "flv": "http://%s:%d/live/room.flv" % (host, PORTS["flv"]),
        "https": "https://%s:%d/live/room.flv" % (host, PORTS["https"]),
        "hls": "http://%s:%d/hls/room.m3u8" % (host, PORTS["hls"]),
        "rtmp": "rtmp://%s/live/room" % host,
        "listen": "http://%s:%d/room.flv" % (host, PORTS["listen"]),
    }


def die(message):
    sys.stderr.write("rig: %s\n" % message)
    sys.exit(1)


def say(message):
    print("rig: %s" % message, flush=True)


class Rig:
    def __init__(self, name):
        if not name or len(name) > 32 or not all(c.isalnum() or c in "_-" for c in name):
            die("namespace name %r must be 1-32 of A-Z a-z 0-9 _ -" % name)
        self.name = name
        self.run = os.path.join(RUN_ROOT, name)
        self.logs = os.path.join(self.run, "logs")
        self.tls = os.path.join(self.run, "tls")
        self.hls = os.path.join(self.run, "hls")
        self.netns_etc = os.path.join("/etc/netns", name)
        self.ca = os.path.join(self.tls, "ca.pem")
        self.origin_socket = os.path.join(self.run, "origin.sock")

    # Processes: started through `ip netns exec` (which execs in place, so the pid is the server's), detached,
    # each with a pidfile holding "pid starttime" so that a stale pidfile never signals an unrelated process.

    def pidfile(self, service):
        return os.path.join(self.run, service + ".pid")

    @staticmethod
    def start_time(pid):
        """The process's start time (clock ticks since boot), or None if it is gone or a zombie (a server that
        exited stays one until its parent, maybe measure.py, reaps it)."""
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return None if fields[0] in ("Z", "X") else fields[19]
        except (OSError, IndexError):
            return None

    def pid(self, service):
        """The service's pid if it is running, else None."""
        try:
            pid, started = open(self.pidfile(service)).read().split()
            pid = int(pid)
        except (OSError, ValueError):
            return None
        return pid if self.start_time(pid) == started else None

    def spawn(self, service, argv):
        log = open(os.path.join(self.logs, service + ".log"), "ab")
        log.write(("\n=== %s %s\n" % (time.strftime("%F %T"), " ".join(argv))).encode())
        log.flush()
        process = subprocess.Popen(["ip", "netns", "exec", self.name] + argv, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        log.close()
        started = None
        for _ in range(100):
            started = self.start_time(process.pid)
            if started:
                break
            time.sleep(0.01)
        with open(self.pidfile(service), "w") as f:
            f.write("%d %s\n" % (process.pid, started))
        return process

    def stop(self, service, grace=5.0, repeat_term=False):
        pid = self.pid(service)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
                if repeat_term:
                    # ffmpeg, once transcoding, only sets a flag on the first signal; a second one interrupts
                    # the I/O it may be blocked in (a write to a viewer that has gone).
                    time.sleep(0.05)
                    os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while self.pid(service) is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.pid(service) is not None:
                say("%s (pid %d) ignored SIGTERM; killing it" % (service, pid))
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                time.sleep(0.1)
        try:
            os.unlink(self.pidfile(service))
        except FileNotFoundError:
            pass

    def netns(self, argv, timeout=20, check=False):
        return subprocess.run(["ip", "netns", "exec", self.name] + argv, capture_output=True, text=True,
                              timeout=timeout, check=check)

    def listening(self, port, proto="t"):
        result = self.netns(["ss", "-Hln" + proto, "sport = :%d" % port])
        return result.returncode == 0 and result.stdout.strip() != ""

    def wait(self, what, check, timeout, service=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if service and self.pid(service) is None:
                die("%s exited while starting; see %s" % (service, os.path.join(self.logs, service + ".log")))
            time.sleep(0.1)
        die("%s did not come up within %.0f s (logs in %s)" % (what, timeout, self.logs))

    # Configuration.

    def make_tls(self):
        """A CA and a leaf for edge.test (RSA 2048, the common web key), kept across `up`s of the same NAME."""
        leaf, key = os.path.join(self.tls, "edge.pem"), os.path.join(self.tls, "edge.key")
        if all(os.path.exists(p) for p in (self.ca, leaf, key)):
            return
        os.makedirs(self.tls, exist_ok=True)
        ca_key = os.path.join(self.tls, "ca.key")

        def openssl(*args):
            subprocess.run(["openssl"] + list(args), check=True, capture_output=True)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", self.ca, "-days", "3650",
                "-subj", "/CN=FirstFrame network rig CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        csr = os.path.join(self.tls, "edge.csr")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + HOST)
        ext = os.path.join(self.tls, "edge.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,"
                    "keyEncipherment\nextendedKeyUsage=serverAuth\n" % HOST)
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", ca_key, "-CAcreateserial", "-out", leaf,
                "-days", "825", "-sha256", "-extfile", ext)

    def nginx_conf(self):
        tmp = os.path.join(self.run, "nginx-tmp")
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(tmp, sub), exist_ok=True)
        conf = """# Generated by scripts/network-rig/rig.py for namespace {name}.
load_module {module};
user root;
worker_processes 1;            # nginx-rtmp's live streams live in one worker
daemon off;
pid {run}/nginx-own.pid;   # the rig keeps nginx.pid
error_log {logs}/nginx-error.log info;
events {{ worker_connections 1024; }}

rtmp {{
    server {{
        listen {server}:{rtmp};    # viewers (emulated)
        listen {server}:{ingest};    # the publisher and the pulls (exempt from the emulator)
        chunk_size 4096;
        application live {{
            live on;
            record off;
            hls on;
            hls_path {hls};
            hls_fragment 2s;
            hls_playlist_length 6s;
        }}
    }}
}}

http {{
    access_log {logs}/nginx-access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;

    server {{                       # HLS of nginx-rtmp
        listen {server}:{http};
        server_name {host};
        location /hls/ {{
            alias {hls}/;
            add_header Cache-Control no-cache;
        }}
    }}

    server {{                       # TLS in front of the GOP-cache origin
        listen {server}:{https} ssl;
        server_name {host};
        ssl_certificate {tls}/edge.pem;
        ssl_certificate_key {tls}/edge.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://unix:{socket}:;
            proxy_buffering off;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Connection "";
            proxy_read_timeout 1h;
        }}
    }}
}}
""".format(name=self.name, module=RTMP_MODULE, run=self.run, logs=self.logs, server=SERVER, hls=self.hls,
           tmp=tmp, host=HOST, tls=self.tls, socket=self.origin_socket, rtmp=PORTS["rtmp"],
           ingest=PORTS["ingest"], http=PORTS["hls"], https=PORTS["https"])
        path = os.path.join(self.run, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def write_netns_etc(self):
        os.makedirs(self.netns_etc, exist_ok=True)
        with open(os.path.join(self.netns_etc, "resolv.conf"), "w") as f:
            f.write("# network rig %s: slow_dns.py (scripts/network-rig)\nnameserver %s\n" % (self.name, SERVER))
        with open(os.path.join(self.netns_etc, "hosts"), "w") as f:
            f.write("# network rig %s: edge.test is resolved by DNS, never here\n127.0.0.1 localhost\n"
                    "::1 localhost ip6-localhost ip6-loopback\n" % self.name)

    def state(self):
        try:
            with open(os.path.join(self.run, "rig.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    # Services.

    def ingest_url(self):
        return "rtmp://%s:%d/live/room" % (SERVER, PORTS["ingest"])

    def start_listen(self):
        self.spawn("listen", ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-i", self.ingest_url(),
                              "-c", "copy", "-f", "flv", "-listen", "1",
                              "http://%s:%d/room.flv" % (SERVER, PORTS["listen"])])
        self.wait("ffmpeg -listen on %d" % PORTS["listen"], lambda: self.listening(PORTS["listen"]), 30, "listen")

    def origin_status(self):
        """The origin's /status over its Unix socket (off the emulated link), or None."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect(self.origin_socket)
                s.sendall(b"GET /status HTTP/1.1\r\nHost: origin\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            return json.loads(data.split(b"\r\n\r\n", 1)[1])
        except (OSError, ValueError, IndexError):
            return None

    FETCH = """
import ssl, sys, urllib.request
try:
    context = ssl.create_default_context(cafile=sys.argv[2])
    with urllib.request.urlopen(sys.argv[1], timeout=15, context=context) as response:
        print(response.status); print(response.read(4096).decode("latin-1"))
except Exception as error:
    print(getattr(error, "code", 0)); print(repr(error))
"""

    def fetch_in_namespace(self, url):
        """GET url from inside the namespace (through its DNS and the emulated link, TLS checked with the rig's
        CA) → (status, start of the body or the error)."""
        result = self.netns([sys.executable, "-c", self.FETCH, url, self.ca], timeout=25)
        status, _, body = result.stdout.partition("\n")
        try:
            return int(status), body
        except ValueError:
            return 0, result.stderr.strip()

    def hls_segments(self):
        try:
            with open(os.path.join(self.hls, "room.m3u8")) as f:
                return sum(1 for line in f if line.strip().endswith(".ts"))
        except OSError:
            return 0

    def up(self, args):
        for tool in ("ip", "iptables", "ffmpeg", "ffprobe", "nginx", "openssl", "ss"):
            if shutil.which(tool) is None:
                die("%s not found (make deps installs what the rig needs)" % tool)
        if os.geteuid() != 0:
            die("needs root (network namespaces, iptables, port 53)")
        if not os.path.exists(RTMP_MODULE):
            die("%s missing: apt-get install libnginx-mod-rtmp" % RTMP_MODULE)
        if os.path.isdir(self.run):
            self.down(quiet=True)
        for d in (self.run, self.logs, self.hls):
            os.makedirs(d, exist_ok=True)
        for old in os.listdir(self.hls):
            os.unlink(os.path.join(self.hls, old))

        # custom: only the explicit values, from a plain loopback (what `firstframe bench network --rtt-ms …` runs).
        rtt, rate, loss = PROFILES.get(args.profile, (0, 0, 0))
        rtt = args.rtt_ms if args.rtt_ms is not None else rtt
        rate = args.rate_kbit if args.rate_kbit is not None else rate
        loss = args.loss if args.loss is not None else loss
        link = [NETNS_LINK, "up", self.name, "--exempt-port", str(PORTS["ingest"])]
        if args.profile != "custom":
            link += ["--profile", args.profile]
        for flag, value in (("--rtt-ms", args.rtt_ms), ("--rate-kbit", args.rate_kbit), ("--loss", args.loss),
                            ("--seed", args.seed), ("--queue-ms", args.queue_ms), ("--cc", args.cc)):
            if value is not None:  # a plain decimal: netns-link.sh takes no exponents (str(1e-05) is '1e-05')
                link += [flag, format(value, "f") if isinstance(value, float) else str(value)]
        result = subprocess.run(link, capture_output=True, text=True)
        sys.stdout.write(result.stdout)
        if result.returncode != 0:
            die("netns-link.sh up failed: %s" % result.stderr.strip())
        self.write_netns_etc()
        self.make_tls()
        state = {"name": self.name, "profile": args.profile, "rtt_ms": rtt, "rate_kbit": rate, "loss_pct": loss,
                 "exempt_ports": [PORTS["ingest"]], "ports": PORTS, "urls": urls(), "ca": self.ca,
                 "run": self.run, "video_kbit": args.video_kbit, "x264_preset": args.x264_preset, "gop_frames": 50,
                 "fps": 25, "dns": {"cold_ms": args.dns_cold_ms, "aaaa_ms": args.dns_aaaa_ms, "ttl": args.dns_ttl},
                 "origin": {"burst": args.origin_burst, "body": args.origin_body},
                 "started": time.strftime("%FT%T%z")}
        with open(os.path.join(self.run, "rig.json"), "w") as f:
            json.dump(state, f, indent=2)

        try:
            self.spawn("dns", [sys.executable, os.path.join(HERE, "slow_dns.py"), "--listen", SERVER,
                               "--port", str(PORTS["dns"]), "--record", "%s=%s" % (HOST, SERVER),
                               "--cold-delay-ms", str(args.dns_cold_ms), "--aaaa-delay-ms", str(args.dns_aaaa_ms),
                               "--ttl", str(args.dns_ttl), "--log", os.path.join(self.logs, "dns-queries.log")])
            self.wait("DNS on 53", lambda: self.listening(PORTS["dns"], "u"), 10, "dns")

            conf = self.nginx_conf()
            test = self.netns(["nginx", "-t", "-q", "-c", conf, "-e", os.path.join(self.logs, "nginx-error.log")])
            if test.returncode != 0:
                die("nginx -t failed: %s" % (test.stderr.strip() or test.stdout.strip()))
            self.spawn("nginx", ["nginx", "-c", conf, "-e", os.path.join(self.logs, "nginx-error.log")])
            self.wait("nginx", lambda: all(self.listening(PORTS[p]) for p in ("rtmp", "ingest", "hls", "https")),
                      10, "nginx")

            gop = 50
            self.spawn("publisher", [
                "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning",
                "-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
                "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                "-c:v", "libx264", "-preset", args.x264_preset, "-pix_fmt", "yuv420p",
                "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
                "-b:v", "%dk" % args.video_kbit, "-maxrate", "%dk" % args.video_kbit,
                "-bufsize", "%dk" % (2 * args.video_kbit),
                "-c:a", "aac", "-b:a", "64k", "-f", "flv", self.ingest_url()])
            # HLS with a full playlist (3 segments of 2 s) means the publisher has been live for ~6 s.
            self.wait("the publisher (HLS playlist with 3 segments)", lambda: self.hls_segments() >= 3, 40,
                      "publisher")

            origin = [sys.executable, os.path.join(HERE, "flv_gop_origin.py"), "--source", self.ingest_url(),
                      "--listen", "%s:%d" % (SERVER, PORTS["flv"]), "--unix", self.origin_socket,
                      "--burst", args.origin_burst, "--body", args.origin_body]
            self.spawn("origin", origin)
            self.wait("the GOP-cache origin (a cached GOP)", lambda: (self.origin_status() or {}).get("ready"), 30,
                      "origin")

            self.start_listen()

            # End to end through DNS and the emulated link: name → address, TLS with the rig's CA, the origin.
            status, body = self.fetch_in_namespace("https://%s:%d/status" % (HOST, PORTS["https"]))
            if status != 200 or '"ready": true' not in body:
                die("HTTPS through edge.test failed: %s %s" % (status, body.strip()))
            status, body = self.fetch_in_namespace(urls()["hls"])
            if status != 200 or "#EXTM3U" not in body:
                die("HLS playlist over the link: %s %s" % (status, body.strip()))
        except SystemExit:
            say("up failed; logs kept in %s; tearing down" % self.logs)
            self.down(quiet=True)
            raise
        say("%s up (%s: RTT %s ms, %s kbit/s, loss %s %%)" % (self.name, args.profile, rtt, rate, loss))
        self.status()

    def restart_listen(self):
        if self.state() is None:
            die("%s is not up" % self.name)
        self.stop("listen", grace=2, repeat_term=True)
        self.start_listen()

    def down(self, quiet=False):
        for service in reversed(SERVICES):
            self.stop(service)
        result = subprocess.run([NETNS_LINK, "down", self.name], capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
        if os.path.isdir(self.netns_etc):
            shutil.rmtree(self.netns_etc)
        try:
            os.unlink(os.path.join(self.run, "rig.json"))
        except FileNotFoundError:
            pass
        if not quiet:
            say("%s down (logs kept in %s)" % (self.name, self.logs))

    def status(self, as_json=False):
        state = self.state()
        services = {s: self.pid(s) for s in SERVICES}
        if as_json:
            print(json.dumps({"state": state, "pids": services, "origin": self.origin_status()}, indent=2))
            return
        if state is None:
            print("%s: down" % self.name)
            return
        print("%s: profile %s, RTT %s ms, rate %s kbit/s, loss %s %% (exempt ports: %s)" % (
            self.name, state["profile"], state["rtt_ms"], state["rate_kbit"], state["loss_pct"],
            ", ".join(map(str, state["exempt_ports"]))))
        for service, pid in services.items():
            print("  %-9s %s" % (service, "pid %d" % pid if pid else "NOT RUNNING"))
        print("URLs (run clients with: ip netns exec %s …):" % self.name)
        for key, url in urls().items():
            print("  %-6s %s" % (key, url))
        print("CA for https: %s" % self.ca)
        print("logs: %s" % self.logs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="namespace, emulator and servers")
    up.add_argument("name")
    up.add_argument("--profile", choices=sorted(PROFILES) + ["custom"], default="lan",
                    help="custom: --rtt-ms, --rate-kbit and --loss only (each 0 unless given)")
    up.add_argument("--rtt-ms", type=float)
    up.add_argument("--rate-kbit", type=float)
    up.add_argument("--loss", type=float, help="percent")
    up.add_argument("--seed", type=int)
    up.add_argument("--queue-ms", type=float)
    up.add_argument("--cc", help="congestion control on the namespace's loopback (default: the kernel's)")
    up.add_argument("--dns-cold-ms", type=float, default=0, help="extra delay of a cold A answer (default 0)")
    up.add_argument("--dns-aaaa-ms", type=float, default=300, help="delay of the NODATA AAAA answer (default 300)")
    up.add_argument("--dns-ttl", type=int, default=60, help="TTL of DNS answers and the cold window (default 60 s)")
    up.add_argument("--video-kbit", type=int, default=1200, help="publisher's video bitrate (default 1200)")
    up.add_argument("--x264-preset", default="veryfast",
                    help="x264 preset (default veryfast: x264's default 3 B-frames, light enough for a 2-core box)")
    up.add_argument("--origin-burst", choices=("one-write", "per-tag"), default="one-write")
    up.add_argument("--origin-body", choices=("close", "chunked"), default="close")
    for command in ("down", "restart-listen"):
        commands.add_parser(command).add_argument("name")
    status = commands.add_parser("status")
    status.add_argument("name")
    status.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rig = Rig(args.name)
    if args.command == "up":
        rig.up(args)
    elif args.command == "down":
        if os.geteuid() != 0:
            die("needs root")
        rig.down()
    elif args.command == "restart-listen":
        rig.restart_listen()
    else:
        rig.status(args.json)


if __name__ == "__main__":
    main()
