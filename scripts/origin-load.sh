#!/usr/bin/env bash
# Measures the loopback origin under fan-out, each side in its own process: `firstframe serve` runs the origin,
# `firstframe load` holds CLIENTS connections on it for DURATION seconds, and the origin's CPU time over the run
# is read from /proc/PID/stat. Usage: scripts/origin-load.sh [BIN] (default .build/release/firstframe).
set -euo pipefail
BIN=${1:-.build/release/firstframe}
CLIENTS=${CLIENTS:-200}
DURATION=${DURATION:-10}
MODE=${MODE:-gop}
PORT=${PORT:-18080}

"$BIN" serve --port "$PORT" >/dev/null 2>&1 &
origin=$!
trap 'kill $origin 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done

ticks() { awk '{ print $14 + $15 }' "/proc/$origin/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks)
start=$(date +%s.%N)
"$BIN" load "http://127.0.0.1:$PORT/$MODE/stream.flv" --clients "$CLIENTS" --seconds "$DURATION"
after=$(ticks)
end=$(date +%s.%N)
awk -v t=$((after - before)) -v hz="$hz" -v s="$start" -v e="$end" -v n="$CLIENTS" 'BEGIN {
    cpu = t / hz; wall = e - s
    printf "origin CPU: %.2f s over %.1f s wall = %.1f%% of one core for %d clients (%.2f ms CPU per client-second)\n",
        cpu, wall, 100 * cpu / wall, n, 1000 * cpu / (wall * n)
}'
