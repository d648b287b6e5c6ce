/*
 * link-emulator — a user-space network link (delay, rate, bounded queue, random loss) for the packets that
 * iptables hands to an NFQUEUE. FirstFrame's rig (issue 23) runs it inside a network namespace whose loopback is
 * queued with
 *
 *     iptables -t mangle -A PREROUTING -i lo -j NFQUEUE --queue-num 0
 *
 * so every packet crosses the emulator exactly once; the kernel's own TCP (slow start, delayed ACKs, loss recovery)
 * then runs over the emulated link. This kernel has no sch_netem, which is why this exists. scripts/netns-link.sh
 * sets the namespace up; Tools/LinkEmulator/README.md has the measured fidelity.
 *
 * MODEL, per direction (each direction has its own, independent link):
 *
 *     arrive → loss (drop with probability P, seeded PRNG, independently per packet)
 *            → bounded FIFO of at most Q packets waiting for / in serialisation (tail drop when full)
 *            → serialiser at R bit/s (the IP packet's length; no link-layer overhead)
 *            → fixed propagation delay RTT/2
 *            → accepted (nfq_set_verdict NF_ACCEPT at release time)
 *
 *   A packet arriving at time t with IP length L leaves the serialiser at depart = max(t, busy_until) + 8L/R and is
 *   accepted at depart + RTT/2. R = 0 means unlimited (depart = t, the FIFO never fills). The FIFO's occupancy is
 *   the number of held packets whose depart time is still in the future. Since the delay is constant per direction,
 *   release times are non-decreasing in arrival order, so a per-direction FIFO (a growable ring) is the timer
 *   queue: no heap is needed.
 *
 * DIRECTION RULE: a packet is server→client ("down") when its SOURCE address is one of the --server-addr addresses
 *   (default 127.0.0.2) or its source TCP/UDP port is one of the --server-port ports (none by default). Every other
 *   packet is client→server ("up"). Servers under test therefore listen on 127.0.0.2 and clients connect from
 *   127.0.0.1 (the kernel's default source for 127.0.0.2 on lo). Traffic between two sockets that are both
 *   "clients" (e.g. 127.0.0.1 ↔ 127.0.0.1) is all "up": it still sees RTT = 2 × RTT/2, but both ways share the up
 *   link's rate.
 *
 * TIMING: one thread. It sleeps in ppoll() on the netfilter queue's socket with a timeout computed from
 *   CLOCK_MONOTONIC to the next release time (timer slack set to 1 µs), so there is no busy-wait; it wakes for a
 *   new packet or for the next release, whichever comes first. One thread means the libnetfilter_queue handle
 *   (whose netlink sequence counter is not thread-safe) is never shared and no lock is taken per packet. Release
 *   lateness (actual − scheduled) is recorded in the stats.
 *
 * FAIL-CLOSED: the queue is bound without NFQA_CFG_F_FAIL_OPEN and the iptables rule has no --queue-bypass, so
 *   every drop is the emulator's: if the emulator is not running, the namespace's loopback is dead rather than
 *   silently unemulated. The kernel queue length is raised (nfq_set_queue_maxlen) and the netlink receive buffer is
 *   enlarged so the kernel does not drop first; kernel-side drops are read from
 *   /proc/net/netfilter/nfnetlink_queue and reported in the stats. GSO packets are segmented by the kernel before
 *   queueing (NFQA_CFG_F_GSO is not set), so the emulator sees MTU-sized packets. Only the first 128 bytes of each
 *   packet are copied to user space (enough for the IPv4/IPv6 and TCP/UDP headers); lengths come from the IP header.
 *
 * USAGE:
 *   link-emulator [--queue N] [--rtt-ms X] [--rate-kbit R] [--loss P] [--seed S] [--limit-packets Q]
 *                 [--stats FILE] [--server-addr ADDR]... [--server-port PORT]... [--realtime PRIO]
 *     --queue N          NFQUEUE number, 0–65535 (default 0)
 *     --rtt-ms X         round-trip time in ms, 0–60000; each direction delays by X/2 (default 0)
 *     --rate-kbit R      rate of each direction in kbit/s (1000 bit/s), 0 = unlimited (default 0), at most 100e6
 *     --loss P           loss probability in percent per packet, 0–100, e.g. 0.5 (default 0)
 *     --seed S           PRNG seed, unsigned 64-bit integer (default 1)
 *     --limit-packets Q  FIFO bound per direction, 1–1000000 packets (default 1000); tail drop beyond
 *     --stats FILE       JSON statistics written at SIGTERM/SIGINT (and at SIGUSR1 without exiting)
 *     --server-addr A    an IPv4/IPv6 address whose packets travel server→client (repeatable; default 127.0.0.2)
 *     --server-port P    a TCP/UDP source port whose packets travel server→client (repeatable)
 *     --realtime PRIO    run under SCHED_FIFO at priority PRIO (1–99). On a machine busy with builds, a normal-priority
 *                        emulator wakes late (measured here at load 11 on 2 cores: mean 100 µs, max 5 ms late); under
 *                        SCHED_FIFO 10, mean 40 µs, max 0.5 ms. It sleeps between packets, so it takes little CPU.
 *   Prints "link-emulator: ready ..." on stderr once the queue is bound. SIGTERM/SIGINT: drop the packets still
 *   held (the link goes down with the process), write the stats, exit 0.
 *
 * BUILD: make link-emulator   (cc -std=c11 -O2 -Wall -Wextra -Werror ... -lnetfilter_queue → .build/link-emulator)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>

#define COPY_RANGE 128
#define MAX_SERVER_ADDRS 16
#define MAX_SERVER_PORTS 64
#define RECV_BATCH 64

/* ---------------------------------------------------------------- configuration */

struct server_addr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char bytes[16];
};

static struct {
    unsigned queue;
    double rtt_ms;
    double rate_kbit;
    double loss_percent;
    uint64_t seed;
    unsigned long limit_packets;
    int realtime_priority; /* SCHED_FIFO priority, 0 = the normal scheduler */
    const char *stats_path;
    struct server_addr addrs[MAX_SERVER_ADDRS];
    size_t addr_count;
    uint16_t ports[MAX_SERVER_PORTS];
    size_t port_count;
} config = {.seed = 1, .limit_packets = 1000};

static uint64_t one_way_ns;       /* RTT / 2 */
static double ns_per_byte;        /* 8e9 / rate_bps, 0 when unlimited */
static uint64_t loss_threshold;   /* drop when next_random() < threshold (0 = never) */
static bool loss_always;          /* --loss 100 */

/* ---------------------------------------------------------------- held packets, per direction */

struct held {
    uint32_t id;
    uint32_t length;
    uint64_t depart_ns;  /* leaves the serialiser */
    uint64_t release_ns; /* accepted */
};

struct counters {
    uint64_t packets_seen, bytes_seen;
    uint64_t packets_delayed, bytes_delayed; /* accepted after the delay */
    uint64_t dropped_loss, bytes_dropped_loss;
    uint64_t dropped_queue, bytes_dropped_queue;
    uint64_t dropped_at_exit;
    uint64_t max_backlog; /* most packets waiting for / in the serialiser at once */
    uint64_t lateness_sum_ns, lateness_max_ns;
};

struct direction {
    const char *name;
    struct held *ring; /* capacity is a power of two; entries are [head, tail) by sequence number */
    uint64_t capacity;
    uint64_t head, queue_head, tail; /* queue_head: first entry whose depart_ns is still in the future */
    uint64_t busy_until_ns;
    struct counters counters;
};

static struct direction up = {.name = "up"}, down = {.name = "down"};

static struct held *at(struct direction *d, uint64_t seq) { return &d->ring[seq & (d->capacity - 1)]; }

static void push(struct direction *d, struct held entry) {
    if (d->tail - d->head == d->capacity) {
        uint64_t capacity = d->capacity ? d->capacity * 2 : 1024;
        struct held *ring = malloc(capacity * sizeof *ring);
        if (ring == NULL) {
            fprintf(stderr, "link-emulator: out of memory holding %" PRIu64 " packets\n", d->capacity);
            exit(1);
        }
        for (uint64_t seq = d->head; seq < d->tail; seq++) ring[seq & (capacity - 1)] = *at(d, seq);
        free(d->ring);
        d->ring = ring;
        d->capacity = capacity;
    }
    *at(d, d->tail++) = entry;
}

/* ---------------------------------------------------------------- clock, PRNG */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xoshiro256** seeded by splitmix64: fast, and every run with the same seed drops the same packet positions. */
static uint64_t prng_state[4];

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_random(void) {
    uint64_t *s = prng_state;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* ---------------------------------------------------------------- command line */

static void usage(FILE *out) {
    fprintf(out,
            "usage: link-emulator [--queue N] [--rtt-ms X] [--rate-kbit R] [--loss P] [--seed S]\n"
            "                     [--limit-packets Q] [--stats FILE] [--server-addr ADDR]... [--server-port PORT]...\n"
            "                     [--realtime PRIO]\n"
            "  --queue N          NFQUEUE number, 0-65535 (default 0)\n"
            "  --rtt-ms X         round-trip time in ms, 0-60000; each direction delays X/2 (default 0)\n"
            "  --rate-kbit R      rate per direction in kbit/s, 0 = unlimited (default 0), at most 100000000\n"
            "  --loss P           loss probability per packet in percent, 0-100 (default 0)\n"
            "  --seed S           PRNG seed, unsigned 64-bit integer (default 1)\n"
            "  --limit-packets Q  FIFO bound per direction, 1-1000000 packets (default 1000), tail drop beyond\n"
            "  --stats FILE       JSON statistics, written at SIGTERM/SIGINT and at SIGUSR1\n"
            "  --server-addr A    packets from this address travel server->client (repeatable; default 127.0.0.2)\n"
            "  --server-port P    packets from this TCP/UDP port travel server->client (repeatable)\n"
            "  --realtime PRIO    run under SCHED_FIFO at priority 1-99 (releases on time on a busy machine)\n");
}

static _Noreturn void bad_option(const char *option, const char *value, const char *why) {
    fprintf(stderr, "link-emulator: %s '%s': %s\n", option, value, why);
    usage(stderr);
    exit(2);
}

static double parse_number(const char *option, const char *text, double min, double max) {
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || end == text || !(text[0] == '-' || text[0] == '.' || (text[0] >= '0' && text[0] <= '9')))
        bad_option(option, text, "not a number");
    if (errno == ERANGE || !isfinite(value)) bad_option(option, text, "not a finite number");
    if (value < min || value > max) {
        char why[96];
        snprintf(why, sizeof why, "out of range (%g to %g)", min, max);
        bad_option(option, text, why);
    }
    return value;
}

static uint64_t parse_unsigned(const char *option, const char *text, uint64_t min, uint64_t max) {
    char *end;
    for (const char *c = text; *c; c++)
        if (*c < '0' || *c > '9') bad_option(option, text, "not an unsigned decimal integer");
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (text[0] == '\0' || *end != '\0') bad_option(option, text, "not an unsigned decimal integer");
    if (errno == ERANGE || value < min || value > max) {
        char why[96];
        snprintf(why, sizeof why, "out of range (%" PRIu64 " to %" PRIu64 ")", min, max);
        bad_option(option, text, why);
    }
    return value;
}

static void parse_arguments(int argc, char **argv) {
    static const struct option options[] = {
        {"queue", required_argument, NULL, 'q'},       {"rtt-ms", required_argument, NULL, 'd'},
        {"rate-kbit", required_argument, NULL, 'r'},   {"loss", required_argument, NULL, 'l'},
        {"seed", required_argument, NULL, 's'},        {"limit-packets", required_argument, NULL, 'Q'},
        {"stats", required_argument, NULL, 'S'},       {"server-addr", required_argument, NULL, 'a'},
        {"server-port", required_argument, NULL, 'p'}, {"realtime", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'q': config.queue = (unsigned)parse_unsigned("--queue", optarg, 0, 65535); break;
        case 'd': config.rtt_ms = parse_number("--rtt-ms", optarg, 0, 60000); break;
        case 'r': config.rate_kbit = parse_number("--rate-kbit", optarg, 0, 100e6); break;
        case 'l': config.loss_percent = parse_number("--loss", optarg, 0, 100); break;
        case 's': config.seed = parse_unsigned("--seed", optarg, 0, UINT64_MAX); break;
        case 'Q': config.limit_packets = parse_unsigned("--limit-packets", optarg, 1, 1000000); break;
        case 'S':
            if (optarg[0] == '\0') bad_option("--stats", optarg, "empty path");
            config.stats_path = optarg;
            break;
        case 'a': {
            if (config.addr_count == MAX_SERVER_ADDRS) bad_option("--server-addr", optarg, "too many addresses");
            struct server_addr *a = &config.addrs[config.addr_count];
            if (inet_pton(AF_INET, optarg, a->bytes) == 1) a->family = AF_INET;
            else if (inet_pton(AF_INET6, optarg, a->bytes) == 1) a->family = AF_INET6;
            else bad_option("--server-addr", optarg, "not an IPv4 or IPv6 address");
            config.addr_count++;
            break;
        }
        case 'p':
            if (config.port_count == MAX_SERVER_PORTS) bad_option("--server-port", optarg, "too many ports");
            config.ports[config.port_count++] = (uint16_t)parse_unsigned("--server-port", optarg, 1, 65535);
            break;
        case 'R': config.realtime_priority = (int)parse_unsigned("--realtime", optarg, 1, 99); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "link-emulator: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        exit(2);
    }
    if (config.addr_count == 0) {
        config.addrs[0].family = AF_INET;
        inet_pton(AF_INET, "127.0.0.2", config.addrs[0].bytes);
        config.addr_count = 1;
    }
    /* rtt_ms ≤ 60000, so rtt_ms × 1e6 / 2 fits comfortably in 64 bits. */
    one_way_ns = (uint64_t)llround(config.rtt_ms * 1e6 / 2);
    ns_per_byte = config.rate_kbit > 0 ? 8e9 / (config.rate_kbit * 1000) : 0;
    loss_always = config.loss_percent >= 100;
    loss_threshold = loss_always ? 0 : (uint64_t)ldexp(config.loss_percent / 100, 64);
    uint64_t seed = config.seed;
    for (int i = 0; i < 4; i++) prng_state[i] = splitmix64(&seed);
}

/* ---------------------------------------------------------------- classification */

/* Fills *length with the IP packet's length (from its header) and returns the packet's direction. */
static struct direction *classify(const unsigned char *p, int copied, uint32_t *length) {
    *length = copied > 0 ? (uint32_t)copied : 0;
    if (copied < 1) return &up;
    int version = p[0] >> 4, family, transport;
    const unsigned char *source;
    size_t header;
    if (version == 4 && copied >= 20) {
        family = AF_INET;
        *length = (uint32_t)p[2] << 8 | p[3];
        source = p + 12;
        header = (size_t)(p[0] & 0x0f) * 4;
        transport = p[9];
        if ((p[6] & 0x1f) != 0 || p[7] != 0) transport = -1; /* a non-first fragment has no ports */
    } else if (version == 6 && copied >= 40) {
        family = AF_INET6;
        *length = 40 + ((uint32_t)p[4] << 8 | p[5]);
        source = p + 8;
        header = 40;
        transport = p[6]; /* extension headers are not followed: ports are then unknown */
    } else {
        return &up;
    }
    for (size_t i = 0; i < config.addr_count; i++)
        if (config.addrs[i].family == family &&
            memcmp(config.addrs[i].bytes, source, family == AF_INET ? 4 : 16) == 0)
            return &down;
    if (config.port_count > 0 && (transport == IPPROTO_TCP || transport == IPPROTO_UDP) &&
        (size_t)copied >= header + 4) {
        uint16_t port = (uint16_t)(p[header] << 8 | p[header + 1]);
        for (size_t i = 0; i < config.port_count; i++)
            if (config.ports[i] == port) return &down;
    }
    return &up;
}

/* ---------------------------------------------------------------- queue handling */

static struct nfq_handle *handle;
static struct nfq_q_handle *queue_handle;
static uint64_t verdict_errors, netlink_overruns, started_ns;

static void verdict(uint32_t id, uint32_t what) {
    if (nfq_set_verdict(queue_handle, id, what, 0, NULL) < 0) {
        if (verdict_errors++ < 10) fprintf(stderr, "link-emulator: verdict for packet %u: %s\n", id, strerror(errno));
    }
}

/* Advances the FIFO's head past the packets that have left the serialiser by `now`. */
static void advance_queue_head(struct direction *d, uint64_t now) {
    if (d->queue_head < d->head) d->queue_head = d->head;
    while (d->queue_head < d->tail && at(d, d->queue_head)->depart_ns <= now) d->queue_head++;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *message, struct nfq_data *data, void *context) {
    (void)qh, (void)message, (void)context;
    struct nfqnl_msg_packet_hdr *header = nfq_get_msg_packet_hdr(data);
    if (header == NULL) return 0;
    uint32_t id = ntohl(header->packet_id);
    unsigned char *payload = NULL;
    int copied = nfq_get_payload(data, &payload);
    uint32_t length;
    struct direction *d = classify(payload, copied, &length);
    struct counters *c = &d->counters;
    c->packets_seen++;
    c->bytes_seen += length;

    if (loss_always || (loss_threshold != 0 && next_random() < loss_threshold)) {
        c->dropped_loss++;
        c->bytes_dropped_loss += length;
        verdict(id, NF_DROP);
        return 0;
    }
    uint64_t now = now_ns();
    advance_queue_head(d, now);
    uint64_t backlog = d->tail - d->queue_head;
    if (backlog >= config.limit_packets) {
        c->dropped_queue++;
        c->bytes_dropped_queue += length;
        verdict(id, NF_DROP);
        return 0;
    }
    uint64_t depart = now;
    if (ns_per_byte > 0) {
        depart = (d->busy_until_ns > now ? d->busy_until_ns : now) + (uint64_t)llround(length * ns_per_byte);
        d->busy_until_ns = depart;
    }
    push(d, (struct held){.id = id, .length = length, .depart_ns = depart, .release_ns = depart + one_way_ns});
    if (depart > now && backlog + 1 > c->max_backlog) c->max_backlog = backlog + 1;
    return 0;
}

/* Accepts every packet whose release time has come; returns the earliest release time still pending (or 0). */
static uint64_t release_due(uint64_t now) {
    uint64_t next = 0;
    struct direction *directions[] = {&up, &down};
    for (int i = 0; i < 2; i++) {
        struct direction *d = directions[i];
        while (d->head < d->tail && at(d, d->head)->release_ns <= now) {
            struct held *h = at(d, d->head++);
            uint64_t late = now - h->release_ns;
            d->counters.lateness_sum_ns += late;
            if (late > d->counters.lateness_max_ns) d->counters.lateness_max_ns = late;
            d->counters.packets_delayed++;
            d->counters.bytes_delayed += h->length;
            verdict(h->id, NF_ACCEPT);
        }
        if (d->head < d->tail) {
            uint64_t release = at(d, d->head)->release_ns;
            if (next == 0 || release < next) next = release;
        }
    }
    return next;
}

/* ---------------------------------------------------------------- statistics */

static void write_counters(FILE *f, const struct counters *c, uint64_t held) {
    double seen = (double)c->packets_seen;
    fprintf(f,
            "{\"packets_seen\": %" PRIu64 ", \"bytes_seen\": %" PRIu64 ", \"packets_delayed\": %" PRIu64
            ", \"bytes_delayed\": %" PRIu64 ", \"dropped_loss\": %" PRIu64 ", \"bytes_dropped_loss\": %" PRIu64
            ", \"dropped_queue\": %" PRIu64 ", \"bytes_dropped_queue\": %" PRIu64 ", \"dropped_at_exit\": %" PRIu64
            ", \"held\": %" PRIu64 ", \"max_backlog_packets\": %" PRIu64
            ", \"loss_rate_percent\": %.4f, \"release_lateness_us\": {\"mean\": %.1f, \"max\": %.1f}}",
            c->packets_seen, c->bytes_seen, c->packets_delayed, c->bytes_delayed, c->dropped_loss,
            c->bytes_dropped_loss, c->dropped_queue, c->bytes_dropped_queue, c->dropped_at_exit, held,
            c->max_backlog, seen > 0 ? 100.0 * (double)c->dropped_loss / seen : 0.0,
            c->packets_delayed ? (double)c->lateness_sum_ns / (double)c->packets_delayed / 1000 : 0.0,
            (double)c->lateness_max_ns / 1000);
}

/* The kernel's own counters for this queue (per network namespace): packets it dropped before the emulator saw
 * them (queue full, or a netlink message lost). Fields: queue peer_portid total copy_mode copy_range
 * queue_dropped user_dropped id_sequence 1. */
static void write_kernel_counters(FILE *f) {
    FILE *proc = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
    unsigned queue, portid, total, mode, range, queue_dropped, user_dropped, sequence;
    bool found = false;
    if (proc != NULL) {
        char line[256];
        while (fgets(line, sizeof line, proc)) {
            if (sscanf(line, "%u %u %u %u %u %u %u %u", &queue, &portid, &total, &mode, &range, &queue_dropped,
                       &user_dropped, &sequence) == 8 &&
                queue == config.queue) {
                found = true;
                break;
            }
        }
        fclose(proc);
    }
    if (found)
        fprintf(f, "{\"queue_total\": %u, \"queue_dropped\": %u, \"user_dropped\": %u}", total, queue_dropped,
                user_dropped);
    else fprintf(f, "null");
}

static void write_stats(void) {
    if (config.stats_path == NULL) return;
    char temporary[4096];
    if (snprintf(temporary, sizeof temporary, "%s.tmp", config.stats_path) >= (int)sizeof temporary) {
        fprintf(stderr, "link-emulator: --stats path too long\n");
        return;
    }
    FILE *f = fopen(temporary, "w");
    if (f == NULL) {
        fprintf(stderr, "link-emulator: cannot write %s: %s\n", temporary, strerror(errno));
        return;
    }
    fprintf(f,
            "{\n  \"config\": {\"queue\": %u, \"rtt_ms\": %g, \"rate_kbit\": %g, \"loss_percent\": %g, \"seed\": %" PRIu64
            ", \"limit_packets\": %lu, \"realtime_priority\": %d},\n",
            config.queue, config.rtt_ms, config.rate_kbit, config.loss_percent, config.seed, config.limit_packets,
            config.realtime_priority);
    fprintf(f, "  \"elapsed_s\": %.3f,\n  \"up\": ", (double)(now_ns() - started_ns) / 1e9);
    write_counters(f, &up.counters, up.tail - up.head);
    fprintf(f, ",\n  \"down\": ");
    write_counters(f, &down.counters, down.tail - down.head);
    fprintf(f, ",\n  \"verdict_errors\": %" PRIu64 ",\n  \"netlink_overruns\": %" PRIu64 ",\n  \"kernel\": ",
            verdict_errors, netlink_overruns);
    write_kernel_counters(f);
    fprintf(f, "\n}\n");
    bool failed = ferror(f);
    if (fclose(f) != 0 || failed || rename(temporary, config.stats_path) != 0) {
        fprintf(stderr, "link-emulator: cannot write %s: %s\n", config.stats_path, strerror(errno));
        unlink(temporary);
    }
}

/* ---------------------------------------------------------------- main loop */

static volatile sig_atomic_t stop_requested, stats_requested;

static void on_signal(int signal) {
    if (signal == SIGUSR1) stats_requested = 1;
    else stop_requested = 1;
}

static _Noreturn void fail(const char *what) {
    fprintf(stderr, "link-emulator: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

int main(int argc, char **argv) {
    parse_arguments(argc, argv);

    /* Signals are blocked except while sleeping in ppoll, so a flag is never missed between check and sleep. */
    sigset_t blocked, sleeping;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &blocked, &sleeping) != 0) fail("sigprocmask");
    sigdelset(&sleeping, SIGTERM);
    sigdelset(&sleeping, SIGINT);
    sigdelset(&sleeping, SIGUSR1);
    struct sigaction action = {.sa_handler = on_signal};
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) || sigaction(SIGINT, &action, NULL) || sigaction(SIGUSR1, &action, NULL))
        fail("sigaction");
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* ppoll wakes within ~1 µs of the deadline, not 50 µs */
    if (config.realtime_priority > 0) {
        struct sched_param param = {.sched_priority = config.realtime_priority};
        if (sched_setscheduler(0, SCHED_FIFO, &param) != 0)
            fprintf(stderr, "link-emulator: warning: SCHED_FIFO %d refused (%s); releases may be late under load\n",
                    config.realtime_priority, strerror(errno));
    }

    errno = 0;
    if ((handle = nfq_open()) == NULL) fail("nfq_open (needs CAP_NET_ADMIN)");
    nfq_unbind_pf(handle, AF_INET); /* no-op on current kernels, harmless on old ones */
    nfq_unbind_pf(handle, AF_INET6);
    if (nfq_bind_pf(handle, AF_INET) < 0 || nfq_bind_pf(handle, AF_INET6) < 0) fail("nfq_bind_pf");
    if ((queue_handle = nfq_create_queue(handle, (uint16_t)config.queue, on_packet, NULL)) == NULL) {
        fprintf(stderr, "link-emulator: cannot bind NFQUEUE %u (is another process bound to it?): %s\n", config.queue,
                strerror(errno));
        return 1;
    }
    if (nfq_set_mode(queue_handle, NFQNL_COPY_PACKET, COPY_RANGE) < 0) fail("nfq_set_mode");
    /* The kernel holds every packet the emulator holds: the FIFO (≤ limit) plus the delay line. */
    uint32_t kernel_limit = config.limit_packets * 2 + 65536 > UINT32_MAX / 2 ? UINT32_MAX / 2
                                                                            : (uint32_t)(config.limit_packets * 2 + 65536);
    if (nfq_set_queue_maxlen(queue_handle, kernel_limit) < 0) fail("nfq_set_queue_maxlen");
    /* Explicitly not fail-open: a full kernel queue drops rather than passing packets unemulated. */
    if (nfq_set_queue_flags(queue_handle, NFQA_CFG_F_FAIL_OPEN, 0) < 0) fail("nfq_set_queue_flags");
    nfnl_rcvbufsiz(nfq_nfnlh(handle), 16 << 20);

    int fd = nfq_fd(handle);
    started_ns = now_ns();
    fprintf(stderr,
            "link-emulator: ready queue=%u rtt_ms=%g rate_kbit=%g loss_percent=%g seed=%" PRIu64
            " limit_packets=%lu\n",
            config.queue, config.rtt_ms, config.rate_kbit, config.loss_percent, config.seed, config.limit_packets);

    static char buffer[1 << 17] __attribute__((aligned));
    for (;;) {
        uint64_t now = now_ns();
        uint64_t next = release_due(now);
        if (stop_requested) break;
        if (stats_requested) {
            stats_requested = 0;
            write_stats();
        }
        struct timespec timeout, *timeout_pointer = NULL;
        if (next != 0) {
            uint64_t wait = next > now ? next - now : 0;
            timeout.tv_sec = (time_t)(wait / 1000000000u);
            timeout.tv_nsec = (long)(wait % 1000000000u);
            timeout_pointer = &timeout;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = ppoll(&pfd, 1, timeout_pointer, &sleeping);
        if (ready < 0) {
            if (errno == EINTR) continue;
            fail("ppoll");
        }
        if (ready == 0) continue;
        /* A bounded batch, so releases due meanwhile are not starved by a burst of arrivals. */
        for (int i = 0; i < RECV_BATCH; i++) {
            ssize_t received = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (received < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
                if (errno == ENOBUFS) {
                    /* Messages were lost: their packets stay in the kernel queue unverdicted (and are counted
                     * when the kernel's limit drops later ones). Rare with a 16 MB buffer; say so. */
                    if (netlink_overruns++ < 10) fprintf(stderr, "link-emulator: netlink receive buffer overrun\n");
                    continue;
                }
                fail("recv");
            }
            if (received == 0) break;
            nfq_handle_packet(handle, buffer, (int)received);
        }
    }

    /* The link goes down with the process: drop what is still held, then report. */
    struct direction *directions[] = {&up, &down};
    for (int i = 0; i < 2; i++) {
        struct direction *d = directions[i];
        for (; d->head < d->tail; d->head++) {
            verdict(at(d, d->head)->id, NF_DROP);
            d->counters.dropped_at_exit++;
        }
    }
    write_stats();
    nfq_destroy_queue(queue_handle);
    nfq_close(handle);
    fprintf(stderr, "link-emulator: stopped (up %" PRIu64 " packets, down %" PRIu64 " packets)\n",
            up.counters.packets_seen, down.counters.packets_seen);
    return 0;
}
