#!/usr/bin/env bash
# A network namespace whose loopback behaves like a real link (issue 23): every packet on its `lo` goes through
# Tools/LinkEmulator (delay, rate, bounded FIFO, loss per direction) via an iptables NFQUEUE rule. Servers under
# test listen on 127.0.0.2 (the emulator's "server" address: packets from it travel server→client), clients connect
# from 127.0.0.1. Run programs inside with `ip netns exec NAME CMD`.
#
#   scripts/netns-link.sh up NAME [--profile lan|wifi|4g|weak] [--rtt-ms X] [--rate-kbit R] [--loss P] [--seed S]
#                                 [--limit-packets Q | --queue-ms MS] [--exempt-port P]... [--server-port P]...
#                                 [--cc ALGORITHM] [--realtime PRIO | --no-realtime]
#   scripts/netns-link.sh down NAME      stops the emulator (its stats stay in the state directory), deletes NAME
#   scripts/netns-link.sh stats NAME     asks the running emulator for its statistics (JSON) and prints them
#   scripts/netns-link.sh status NAME
#
# Profiles (explicit flags override them): lan = no emulator (plain loopback, MTU 1500); wifi = 20 ms RTT,
# 30000 kbit/s; 4g = 60 ms, 8000 kbit/s, 0.5 % loss; weak = 150 ms, 1500 kbit/s, 2 % loss. The rate is per direction.
# --exempt-port P: TCP and UDP traffic to or from port P bypasses the emulator (a control channel, a feeder).
# --cc: TCP congestion control on the namespace's loopback routes (default: the kernel's default, which a new
# namespace inherits: bbr on this machine; cubic is Linux's usual default). tcp_no_metrics_save is set in the
# namespace so one connection's loss does not lower the next one's ssthresh (each measurement starts cold).
# --limit-packets Q: the bottleneck FIFO per direction (default 1000, like netem; at 1500 kbit/s that is 8 s of queue,
# which cubic fills); --queue-ms MS sets it as time instead: MS of 1500-byte packets at the set rate (at least 2).
# --realtime: the emulator's SCHED_FIFO priority (default 10; --no-realtime: the normal scheduler). On a machine busy
# with builds a normal-priority emulator releases packets late (up to milliseconds); it sleeps between packets.
#
# `up` on an existing NAME replaces it; `down` is safe on a half set-up or absent NAME. Needs root (CAP_NET_ADMIN,
# CAP_SYS_ADMIN), iproute2, iptables and the emulator built (`make link-emulator`; or set LINK_EMULATOR=path).
# State (pidfile, log, stats): ${NETNS_LINK_STATE:-/run/firstframe-link}/NAME.{pid,log,stats.json}.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EMULATOR=${LINK_EMULATOR:-$repo/.build/link-emulator}
STATE=${NETNS_LINK_STATE:-/run/firstframe-link}

die() {
    echo "netns-link: $*" >&2
    exit 1
}
usage() {
    sed -n '7,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

check_name() {
    [[ ${1:-} =~ ^[A-Za-z0-9_-]{1,32}$ ]] || die "namespace name '${1:-}' must be 1-32 of A-Z a-z 0-9 _ -"
}
check_number() { # option value: a plain decimal (the emulator checks the ranges)
    [[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$1 '$2': expected a non-negative decimal number"
}
check_port() {
    [[ $2 =~ ^[0-9]{1,5}$ ]] && (($2 >= 1 && $2 <= 65535)) || die "$1 '$2': expected a port 1-65535"
}
need_root() {
    [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and iptables); run with sudo"
    command -v ip >/dev/null || die "ip (iproute2) not found: apt-get install iproute2"
}
namespace_exists() { ip netns list 2>/dev/null | awk '{ print $1 }' | grep -qx -- "$1"; }

# Is PID a link emulator (so that a stale pidfile never makes us signal an unrelated process)?
is_emulator() {
    [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 'link-emulator'
}

stop_emulator() { # pid: SIGTERM (the emulator writes its stats), then SIGKILL after 5 s
    local pid=$1
    is_emulator "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        is_emulator "$pid" || return 0
        sleep 0.1
    done
    echo "netns-link: emulator $pid ignored SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

down() {
    local name=$1 pid
    if [ -f "$STATE/$name.pid" ]; then
        stop_emulator "$(cat "$STATE/$name.pid" 2>/dev/null || true)"
        rm -f "$STATE/$name.pid"
    fi
    if namespace_exists "$name"; then
        # An emulator whose pidfile was lost (a half set-up): find it among the namespace's processes.
        for pid in $(ip netns pids "$name" 2>/dev/null || true); do
            stop_emulator "$pid"
        done
        local left
        left=$(ip netns pids "$name" 2>/dev/null | tr '\n' ' ' || true)
        [ -z "$left" ] || echo "netns-link: warning: processes still in namespace $name (not killed): $left" >&2
        ip netns del "$name" || die "cannot delete namespace $name"
    fi
}

add_rules() { # name table exempt-ports...: the exemptions first, then everything else on lo to queue 0
    local name=$1 table=$2 port proto
    shift 2
    for port in "$@"; do
        for proto in tcp udp; do
            ip netns exec "$name" "$table" -w 5 -t mangle -A PREROUTING -i lo -p $proto --dport "$port" -j RETURN ||
                return 1
            ip netns exec "$name" "$table" -w 5 -t mangle -A PREROUTING -i lo -p $proto --sport "$port" -j RETURN ||
                return 1
        done
    done
    ip netns exec "$name" "$table" -w 5 -t mangle -A PREROUTING -i lo -j NFQUEUE --queue-num 0
}

up() {
    local name=$1
    shift
    local profile="" rtt="" rate="" loss="" seed=1 limit=1000 queue_ms="" cc="" realtime=10 exempt=() server_ports=()
    while [ $# -gt 0 ]; do
        if [ "$1" = --no-realtime ]; then
            realtime=0
            shift
            continue
        fi
        [ $# -ge 2 ] || die "$1 needs a value"
        case $1 in
        --profile) profile=$2 ;;
        --rtt-ms) check_number "$1" "$2" && rtt=$2 ;;
        --rate-kbit) check_number "$1" "$2" && rate=$2 ;;
        --loss) check_number "$1" "$2" && loss=$2 ;;
        --seed) [[ $2 =~ ^[0-9]+$ ]] || die "--seed '$2': expected an unsigned integer"; seed=$2 ;;
        --limit-packets) [[ $2 =~ ^[0-9]+$ ]] || die "--limit-packets '$2': expected a positive integer"; limit=$2 ;;
        --queue-ms) check_number "$1" "$2" && queue_ms=$2 ;;
        --exempt-port) check_port "$1" "$2" && exempt+=("$2") ;;
        --server-port) check_port "$1" "$2" && server_ports+=("$2") ;;
        --realtime) [[ $2 =~ ^[0-9]+$ ]] && (($2 >= 1 && $2 <= 99)) || die "--realtime '$2': expected 1-99"; realtime=$2 ;;
        --cc) [[ $2 =~ ^[a-z0-9_]+$ ]] || die "--cc '$2': expected an algorithm name"; cc=$2 ;;
        *) die "unknown option $1 (see the top of $0)" ;;
        esac
        shift 2
    done
    local p_rtt=0 p_rate=0 p_loss=0
    case $profile in
    "" | lan) ;;
    wifi) p_rtt=20 p_rate=30000 ;;
    4g) p_rtt=60 p_rate=8000 p_loss=0.5 ;;
    weak) p_rtt=150 p_rate=1500 p_loss=2 ;;
    *) die "unknown profile '$profile' (lan, wifi, 4g, weak)" ;;
    esac
    rtt=${rtt:-$p_rtt} rate=${rate:-$p_rate} loss=${loss:-$p_loss}
    if [ -n "$queue_ms" ]; then
        awk -v r="$rate" 'BEGIN { exit !(r > 0) }' || die "--queue-ms needs a rate (--rate-kbit or a profile with one)"
        limit=$(awk -v r="$rate" -v ms="$queue_ms" 'BEGIN { q = int(r * ms / 8 / 1500 + 0.999); print (q < 2 ? 2 : q) }')
    fi
    local emulate=1
    if awk -v a="$rtt" -v b="$rate" -v c="$loss" 'BEGIN { exit !(a == 0 && b == 0 && c == 0) }'; then emulate=0; fi
    if [ $emulate = 1 ]; then
        [ -x "$EMULATOR" ] || die "emulator not found at $EMULATOR: run 'make link-emulator' (or set LINK_EMULATOR)"
        command -v iptables >/dev/null || die "iptables not found: apt-get install iptables"
    fi

    down "$name"
    mkdir -p "$STATE"
    rm -f "$STATE/$name.stats.json" "$STATE/$name.log"
    ip netns add "$name" 2>"$STATE/$name.log" ||
        die "cannot create network namespace $name ($(cat "$STATE/$name.log")); are namespaces allowed here?"
    ip -n "$name" link set lo mtu 1500 up || { down "$name"; die "cannot bring lo up in $name"; }
    ip netns exec "$name" sysctl -q -w net.ipv4.tcp_no_metrics_save=1 >/dev/null || true
    if [ -n "$cc" ]; then
        # Per route, not the namespace's sysctl: outside the initial namespace the kernel only lets the sysctl pick
        # an algorithm listed in the host-wide tcp_allowed_congestion_control. The routes cover both ends of every
        # loopback connection (127/8 for the way to a server, 127.0.0.1 for the way back, ::1).
        grep -qw -- "$cc" /proc/sys/net/ipv4/tcp_available_congestion_control ||
            { down "$name"; die "congestion control '$cc' not available ($(cat /proc/sys/net/ipv4/tcp_available_congestion_control))"; }
        local route
        for route in 127.0.0.0/8 127.0.0.1; do
            ip -n "$name" route replace local "$route" dev lo table local proto kernel scope host src 127.0.0.1 \
                congctl "$cc" || { down "$name"; die "cannot set congestion control $cc on $route"; }
        done
        if ip -n "$name" -6 route del local ::1 table local 2>/dev/null; then
            ip -n "$name" -6 route add local ::1 dev lo table local proto kernel congctl "$cc" ||
                echo "netns-link: warning: IPv6 loopback keeps the default congestion control" >&2
        fi
    fi
    if [ $emulate = 1 ]; then
        local args=(--queue 0 --rtt-ms "$rtt" --rate-kbit "$rate" --loss "$loss" --seed "$seed"
            --limit-packets "$limit" --stats "$STATE/$name.stats.json" --server-addr 127.0.0.2)
        local port
        for port in "${server_ports[@]}"; do args+=(--server-port "$port"); done
        [ "$realtime" = 0 ] || args+=(--realtime "$realtime")
        # `ip netns exec` execs the emulator in place, so $! is the emulator's pid.
        ip netns exec "$name" "$EMULATOR" "${args[@]}" </dev/null >>"$STATE/$name.log" 2>&1 &
        local pid=$!
        echo "$pid" >"$STATE/$name.pid"
        for _ in $(seq 50); do
            grep -q 'link-emulator: ready' "$STATE/$name.log" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if ! grep -q 'link-emulator: ready' "$STATE/$name.log"; then
            local log
            log=$(grep -m1 'link-emulator' "$STATE/$name.log" || tail -3 "$STATE/$name.log")
            down "$name"
            die "the emulator did not start: $log"
        fi
        # Rules only once the emulator listens: the queue is fail-closed, packets queued before would be dropped.
        local rules_ok=1
        add_rules "$name" iptables "${exempt[@]}" 2>>"$STATE/$name.log" || rules_ok=0
        if command -v ip6tables >/dev/null; then
            add_rules "$name" ip6tables "${exempt[@]}" 2>>"$STATE/$name.log" ||
                echo "netns-link: warning: ip6tables rule failed: IPv6 loopback (::1) is not emulated" >&2
        fi
        if [ $rules_ok = 0 ]; then
            local log
            log=$(tail -5 "$STATE/$name.log")
            down "$name"
            die "cannot install the NFQUEUE rule (iptables mangle/NFQUEUE not allowed here?): $log"
        fi
        echo "netns-link: $name up: RTT ${rtt} ms, rate ${rate} kbit/s per direction (0 = unlimited), loss ${loss} %," \
            "emulator pid $pid, stats $STATE/$name.stats.json${exempt:+, exempt ports ${exempt[*]}}"
    else
        echo "netns-link: $name up: plain loopback (MTU 1500), no emulator"
    fi
    echo "netns-link: servers listen on 127.0.0.2; run: ip netns exec $name COMMAND"
}

stats() {
    local name=$1 file="$STATE/$1.stats.json" pid before
    pid=$(cat "$STATE/$name.pid" 2>/dev/null || true)
    is_emulator "$pid" || die "no emulator running for $name"
    # The stats file is replaced atomically; wait for a new one.
    before=$(stat -c '%.9Y' "$file" 2>/dev/null || echo none)
    kill -USR1 "$pid"
    for _ in $(seq 50); do
        [ "$(stat -c '%.9Y' "$file" 2>/dev/null || echo none)" != "$before" ] && break
        sleep 0.05
    done
    cat "$file"
}

status() {
    local name=$1 pid
    namespace_exists "$name" || { echo "$name: down"; return 0; }
    pid=$(cat "$STATE/$name.pid" 2>/dev/null || true)
    if is_emulator "$pid"; then
        echo "$name: up, emulator pid $pid: $(grep 'link-emulator: ready' "$STATE/$name.log" | tail -1)"
    else
        echo "$name: up, no emulator (plain loopback, or the emulator died: $STATE/$name.log)"
    fi
}

[ $# -ge 2 ] || usage
command=$1 name=$2
shift 2
check_name "$name"
case $command in
up) need_root && up "$name" "$@" ;;
down) [ $# -eq 0 ] || die "down takes only a name"; need_root && down "$name" && echo "netns-link: $name down" ;;
stats) stats "$name" ;;
status) status "$name" ;;
*) usage ;;
esac
