#!/usr/bin/env bash
# Checks the link emulator end to end (issue 23): a namespace from scripts/netns-link.sh at RTT 40 ms and
# 4000 kbit/s; the median TCP connect time to 127.0.0.2 must be 40 ms ± 10 % and a 2 MB HTTP download (curl,
# python3 -m http.server) 4000 kbit/s ± 15 %. Exit 0 and "ok: …", 1 and "FAIL: …", or 0 and "skipped: <why>" where
# network namespaces, iptables or NFQUEUE are not allowed. Every step is bounded by a timeout (about 40 s in all).
# Usage: scripts/test-link-emulator.sh (root; `make test-link-emulator` builds the emulator first).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EMULATOR=${LINK_EMULATOR:-$repo/.build/link-emulator}
RTT_MS=40 RATE_KBIT=4000 PORT=18080 SIZE=$((2 << 20))
name=ff-test-$$ probe=ff-probe-$$
export NETNS_LINK_STATE
NETNS_LINK_STATE=$(mktemp -d /tmp/ff-link-test.XXXXXX)
webroot=$NETNS_LINK_STATE/www
server=""

skip() {
    echo "skipped: $*"
    exit 0
}
fail() {
    echo "FAIL: $*"
    exit 1
}
cleanup() {
    [ -z "$server" ] || kill "$server" 2>/dev/null
    timeout 20 "$repo/scripts/netns-link.sh" down "$name" >/dev/null 2>&1
    ip netns del "$probe" 2>/dev/null
    rm -rf "$NETNS_LINK_STATE"
}
trap cleanup EXIT

# What this machine allows; any "no" is a skip, not a failure.
for tool in curl python3; do
    command -v $tool >/dev/null || skip "$tool not installed"
done
[ -x "$EMULATOR" ] || fail "emulator not built at $EMULATOR (run: make link-emulator)"
# shellcheck source=netns-preflight.sh
. "$repo/scripts/netns-preflight.sh"
netns_preflight "$probe" "$EMULATOR"

# The namespace and a server on 127.0.0.2 (the emulator's server address).
timeout 30 "$repo/scripts/netns-link.sh" up "$name" --rtt-ms $RTT_MS --rate-kbit $RATE_KBIT >/dev/null ||
    fail "scripts/netns-link.sh up failed"
mkdir -p "$webroot"
head -c $SIZE /dev/urandom >"$webroot/file.bin"
ip netns exec "$name" timeout 60 python3 -m http.server --bind 127.0.0.2 --directory "$webroot" $PORT \
    >/dev/null 2>&1 &
server=$!

# TCP connect time: the median of 9 connects (SYN up, SYN-ACK down: one emulated round trip).
connect=$(ip netns exec "$name" timeout 20 python3 - $PORT <<'EOF'
import socket, statistics, sys, time
port = int(sys.argv[1])
deadline = time.monotonic() + 10
while True:  # the server is up once a connect succeeds
    try:
        socket.create_connection(("127.0.0.2", port), 2).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("http.server did not start")
        time.sleep(0.1)
times = []
for _ in range(9):
    t = time.perf_counter()
    socket.create_connection(("127.0.0.2", port), 5).close()
    times.append((time.perf_counter() - t) * 1000)
    time.sleep(0.02)
print(f"{statistics.median(times):.2f}")
EOF
) || fail "connect probe failed: $connect"

# Download rate: curl's goodput over the whole 2 MB (handshake and slow start included).
download=$(ip netns exec "$name" curl -sS --max-time 20 -o /dev/null -w '%{size_download} %{time_total}' \
    "http://127.0.0.2:$PORT/file.bin" 2>&1) || fail "download failed: $download"
read -r bytes seconds <<<"$download"
[ "$bytes" -eq $SIZE ] || fail "downloaded $bytes bytes, expected $SIZE"
kbit=$(awk -v b="$bytes" -v s="$seconds" 'BEGIN { printf "%.0f", b * 8 / s / 1000 }')

verdict=$(awk -v c="$connect" -v r=$RTT_MS -v k="$kbit" -v R=$RATE_KBIT 'BEGIN {
    ok = 1
    if (c < 0.9 * r || c > 1.1 * r) { printf "connect RTT %.2f ms outside %d ms +/- 10 %%; ", c, r; ok = 0 }
    if (k < 0.85 * R || k > 1.15 * R) { printf "download %d kbit/s outside %d kbit/s +/- 15 %%; ", k, R; ok = 0 }
    if (ok) printf "connect RTT %.2f ms (set %d ms), download %d kbit/s (set %d kbit/s)", c, r, k, R
    exit !ok }') || fail "$verdict"
echo "ok: $verdict"
