#!/usr/bin/env bash
# Checks `firstframe bench network` end to end (issue 23): the rig at 4g's round trip and rate (a custom profile:
# RTT 60 ms, 8000 kbit/s, no loss, so that a lost DNS packet cannot fail an open of so short a run), HTTP-FLV,
# the instant preset, 2 rounds. The results must hold 2 successful opens whose first pictures came after at least
# the protocol's round trips × the RTT (3 × 60 ms): on plain loopback, had the emulator not been in the path, they
# take ~10 ms. Exit 0 and "ok: …", 1 and "FAIL: …", or 0 and "skipped: <why>" where root, network namespaces or
# NFQUEUE are not available. About 40 s; every step bounded by a timeout.
# Usage: scripts/test-network-bench.sh (`make test-network-bench` builds the CLI and the emulator first).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIRSTFRAME=${FIRSTFRAME:-$repo/.build/debug/firstframe}
RTT_MS=60 RATE_KBIT=8000
name=ffbt$$ probe=ffbt-probe-$$
out=$(mktemp -d /tmp/ff-network-bench.XXXXXX)

skip() {
    echo "skipped: $*"
    exit 0
}
fail() {
    echo "FAIL: $*"
    exit 1
}
cleanup() {
    ip netns del "$probe" 2>/dev/null
    rm -rf "$out"
}
trap cleanup EXIT

[ -x "$FIRSTFRAME" ] || fail "firstframe not built at $FIRSTFRAME (run: swift build)"
# Every number and name is checked before anything is made (no root needed for that).
for bad in "--rtt-ms nan" "--rtt-ms=-1" "--rate-kbit 50" "--loss 60" "--profiles 5g" "--repeat 0" "--contenders vlc"; do
    # shellcheck disable=SC2086
    said=$("$FIRSTFRAME" bench network $bad 2>&1) && fail "bench network $bad was accepted"
    echo "$said" | grep -q "^Error: --" || fail "bench network $bad: $said"
done

# What this machine allows; any "no" is a skip, not a failure (the bench's own preflight says the same, typed).
# shellcheck source=netns-preflight.sh
. "$(dirname "${BASH_SOURCE[0]}")/netns-preflight.sh"
netns_preflight "$probe"

# The bench tears its rig down itself, also when it fails; a timeout's SIGTERM makes it do so too.
timeout --kill-after 30 150 "$FIRSTFRAME" bench network --rtt-ms $RTT_MS --rate-kbit $RATE_KBIT --loss 0 \
    --protocols flv --contenders instant --repeat 2 --namespace "$name" --out "$out" --json \
    >"$out/stdout.json" 2>"$out/stderr.log"
status=$?
ip netns list | grep -qw "$name" && fail "the bench left namespace $name up"
[ $status -eq 0 ] || fail "bench network exited $status: $(tail -5 "$out/stderr.log")"

verdict=$(python3 - "$out/custom.json" "$out/stdout.json" $RTT_MS <<'PY'
import json, sys
result, printed, rtt = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
if [p["profile"] for p in printed["profiles"]] != ["custom"]:
    sys.exit("--json printed profiles %s" % [p["profile"] for p in printed["profiles"]])
if result["meta"]["rig"]["rtt_ms"] != rtt:
    sys.exit("the rig ran at RTT %s ms" % result["meta"]["rig"]["rtt_ms"])
opens = result["opens"]
times = [o.get("first_picture_ms") for o in opens if o.get("outcome") == "ok"]
if len(opens) != 2 or len(times) != 2 or None in times:
    sys.exit("expected 2 successful opens, got %s" % [(o.get("outcome"), o.get("error")) for o in opens])
least = result["meta"]["floors"]["flv"]["round_trips"] * rtt
if min(times) < least:
    sys.exit("first picture %.0f ms is below %.0f ms (round trips x RTT): was the link emulated?" % (min(times), least))
print("2 opens, first picture %s ms >= %.0f ms (%d round trips x %.0f ms), floor %.0f ms" % (
    " and ".join("%.0f" % t for t in times), least, least / rtt, rtt, result["meta"]["floors"]["flv"]["floor_ms"]))
PY
) || fail "$verdict"
echo "ok: $verdict"
