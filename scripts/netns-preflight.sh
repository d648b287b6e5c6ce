# Sourced by the scripts that test on an emulated link (test-link-emulator.sh, test-network-bench.sh,
# test-network-accuracy.sh): what this machine allows, each "no" a skip (exit 0, "skipped: why"), not a failure.
# Needs the caller's `skip` function; `netns_preflight PROBE_NAMESPACE [EMULATOR]` checks root, ip and iptables, that a
# namespace can be made, that an NFQUEUE rule is allowed in it and, given the emulator, that NFQUEUE can be bound.

netns_preflight() {
    local probe=$1 emulator=${2:-}
    [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, iptables)"
    command -v ip >/dev/null && command -v iptables >/dev/null && command -v timeout >/dev/null ||
        skip "ip, iptables or timeout not installed"
    timeout 10 ip netns add "$probe" 2>/dev/null || skip "network namespaces not allowed here (ip netns add failed)"
    if ! timeout 10 ip netns exec "$probe" iptables -w 5 -t mangle -A PREROUTING -i lo -j NFQUEUE --queue-num 0 \
        2>/dev/null; then
        ip netns del "$probe" 2>/dev/null
        skip "iptables NFQUEUE rule not allowed in a namespace"
    fi
    if [ -n "$emulator" ]; then
        local out
        out=$(timeout 2 ip netns exec "$probe" "$emulator" 2>&1)
        if ! echo "$out" | grep -q 'link-emulator: ready'; then
            ip netns del "$probe" 2>/dev/null
            skip "NFQUEUE not usable here: $(echo "$out" | head -1)"
        fi
    fi
    ip netns del "$probe"
}
