// Warm connections handed to connect(), spare connections, and hedged connects (CNetworkHooks.h, "Warm
// connections and connect hedging"). The mechanics only: how many spares, whether to hedge and after how long
// are the calling thread's connect policy, set from Swift.
//
// FFmpeg 5.1's TCP connect (libavformat/network.c, ff_connect_parallel): socket(SOCK_CLOEXEC), fcntl(O_NONBLOCK),
// the tcp protocol's setsockopt()s (SO_RCVBUF, SO_SNDBUF, TCP_NODELAY, TCP_MAXSEG, each only when its option is
// set), connect(); a 0 return is taken as connected at once; EINPROGRESS is followed by poll(POLLOUT) in 100 ms
// slices (the interrupt callback between them) and getsockopt(SO_ERROR) once poll reports the socket.
//
// - connect(): a pooled, established, healthy socket to the same address is dup3()ed onto the caller's fd, with
//   the caller's flags and options, and connect returns 0.
// - getsockopt(SO_ERROR) == 0 or connect() == 0: the first connect of the policy to an address opens the spares.
// - poll(): while an attempt of this thread is connecting and the hedge delay has passed, a second attempt to the
//   same address is polled with the caller's set; if it connects first it is dup3()ed onto the caller's fd and
//   reported as writable. Same thread as the caller's poll, so nothing races with FFmpeg's use of the fd.
#include "internal.h"

#if defined(CNH_INTERPOSE)
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// dup3 and POLLRDHUP need _GNU_SOURCE, which also changes sys/socket.h's prototypes (NextSymbol.c's note): declare
// what is used here instead.
extern int dup3(int oldfd, int newfd, int flags);
#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif
#ifndef O_CLOEXEC
#define O_CLOEXEC 02000000
#endif

// MARK: the real calls (the hooks' own would record events for the pool's sockets)

#define WARM_REAL(name)                                                                                        \
    static __typeof__(name) *_Atomic warm_real_##name##_pointer;                                               \
    static inline __typeof__(name) *warm_real_##name(void) {                                                   \
        __typeof__(name) *pointer = atomic_load_explicit(&warm_real_##name##_pointer, memory_order_relaxed);    \
        if (__builtin_expect(pointer == NULL, 0)) {                                                            \
            pointer = (__typeof__(name) *)cnh_next_symbol(#name);                                              \
            atomic_store_explicit(&warm_real_##name##_pointer, pointer, memory_order_relaxed);                 \
        }                                                                                                      \
        return pointer;                                                                                        \
    }

WARM_REAL(connect)
WARM_REAL(getsockopt)
WARM_REAL(recv)
WARM_REAL(close)
WARM_REAL(poll)

static int pending_error(int fd) {
    int error = 0;
    socklen_t length = sizeof(error);
    if (warm_real_getsockopt()(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno ? errno : EBADF;
    return error;
}

static int int_option(int fd, int level, int name, int fallback) {
    int value = fallback;
    socklen_t length = sizeof(value);
    if (warm_real_getsockopt()(fd, level, name, &value, &length) != 0) return fallback;
    return value;
}

static int same_address(const struct sockaddr_storage *slot, socklen_t slot_length, const struct sockaddr *address,
                        socklen_t length) {
    if (address == NULL || slot_length != length) return 0;
    if (address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)slot, *b = (const struct sockaddr_in *)address;
        return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    if (address->sa_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)slot, *b = (const struct sockaddr_in6 *)address;
        return a->sin6_port == b->sin6_port && a->sin6_scope_id == b->sin6_scope_id &&
               memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
    }
    return 0;
}

/// A new non-blocking TCP socket for `family`, connect() started; -1 (errno set) when it could not start.
static int start_connect(const struct sockaddr *address, socklen_t length, int *status, int *error) {
    int fd = socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    *status = warm_real_connect()(fd, address, length);
    *error = *status < 0 ? errno : 0;
    if (*status < 0 && *error != EINPROGRESS && *error != EINTR) {
        warm_real_close()(fd);
        errno = *error;
        return -1;
    }
    return fd;
}

/// Moves the connection on `from` onto `onto` (the caller's socket, unconnected or connecting): the caller's
/// O_NONBLOCK and FD_CLOEXEC, its TCP_NODELAY, and its buffer sizes where it changed them from `from`'s defaults
/// (`rcvbuf`/`sndbuf`, read when `from` was made). `from` is closed either way. Returns 1 on success.
static int adopt(int from, int onto, int rcvbuf, int sndbuf) {
    int status_flags = fcntl(onto, F_GETFL);
    int fd_flags = fcntl(onto, F_GETFD);
    int from_flags = fcntl(from, F_GETFL);
    if (status_flags < 0 || fd_flags < 0 || from_flags < 0) {
        warm_real_close()(from);
        return 0;
    }
    (void)fcntl(from, F_SETFL, (from_flags & ~O_NONBLOCK) | (status_flags & O_NONBLOCK));
    int nodelay = int_option(onto, IPPROTO_TCP, TCP_NODELAY, 0);
    (void)setsockopt(from, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay));
    // Linux reports twice what was set; a value that differs from a fresh socket's default was set by the caller.
    int onto_rcvbuf = int_option(onto, SOL_SOCKET, SO_RCVBUF, rcvbuf);
    if (onto_rcvbuf != rcvbuf) {
        int half = onto_rcvbuf / 2;
        (void)setsockopt(from, SOL_SOCKET, SO_RCVBUF, &half, sizeof(half));
    }
    int onto_sndbuf = int_option(onto, SOL_SOCKET, SO_SNDBUF, sndbuf);
    if (onto_sndbuf != sndbuf) {
        int half = onto_sndbuf / 2;
        (void)setsockopt(from, SOL_SOCKET, SO_SNDBUF, &half, sizeof(half));
    }
    int moved = dup3(from, onto, (fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0) == onto;
    warm_real_close()(from);
    return moved;
}

// MARK: the pool

struct warm_slot {
    int fd;
    struct sockaddr_storage address;
    socklen_t length;
    uint64_t opened_ns;
    uint64_t expires_ns;
    uint64_t owner;
    int rcvbuf; // a fresh socket's defaults, before connect: what the caller's socket is compared with
    int sndbuf;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct warm_slot slots[CNH_WARM_MAX_SLOTS];
static int slot_count;
static int capacity = 8;
/// slot_count, readable without the lock: connect's look at an empty pool costs one load.
static _Atomic int pooled;

enum slot_health { SLOT_CONNECTING, SLOT_READY, SLOT_DEAD };

/// Whether a pooled socket is still connecting, established and usable, or dead: an error pending, the peer's
/// FIN or RST seen (POLLRDHUP/POLLHUP, or a MSG_PEEK read of 0), or bytes nobody asked for waiting to be read.
static enum slot_health health(int fd) {
    struct pollfd probe = {.fd = fd, .events = POLLOUT | POLLIN | POLLRDHUP, .revents = 0};
    int ready = warm_real_poll()(&probe, 1, 0);
    if (ready < 0) return SLOT_DEAD;
    if (ready == 0) return SLOT_CONNECTING;
    if (probe.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return SLOT_DEAD;
    if (pending_error(fd) != 0) return SLOT_DEAD;
    if (probe.revents & POLLIN) return SLOT_DEAD; // EOF (a peek would read 0) or unsolicited bytes: unusable
    return (probe.revents & POLLOUT) ? SLOT_READY : SLOT_CONNECTING;
}

/// Removes slot `index` (under the lock), returning its fd.
static int remove_slot(int index) {
    int fd = slots[index].fd;
    slots[index] = slots[--slot_count];
    atomic_store_explicit(&pooled, slot_count, memory_order_relaxed);
    return fd;
}

/// Closes (under the lock) what expired, or with `owner`/`all`, what that owner holds; returns how many.
static int close_matching(uint64_t owner, int all, uint64_t now) {
    int closed = 0;
    for (int i = 0; i < slot_count;) {
        int owned = owner == 0 || slots[i].owner == owner;
        if (owned && (all || slots[i].expires_ns <= now)) {
            warm_real_close()(remove_slot(i));
            closed++;
        } else {
            i++;
        }
    }
    return closed;
}

static int pool_add(int fd, const struct sockaddr *address, socklen_t length, uint64_t opened_ns, uint64_t expires_ns,
                    uint64_t owner, int rcvbuf, int sndbuf) {
    if (length > sizeof(struct sockaddr_storage)) return 0;
    pthread_mutex_lock(&pool_lock);
    close_matching(0, 0, cnh_monotonic_ns());
    int added = slot_count < capacity;
    if (added) {
        struct warm_slot *slot = &slots[slot_count++];
        slot->fd = fd;
        memset(&slot->address, 0, sizeof(slot->address));
        memcpy(&slot->address, address, length);
        slot->length = length;
        slot->opened_ns = opened_ns;
        slot->expires_ns = expires_ns;
        slot->owner = owner;
        slot->rcvbuf = rcvbuf;
        slot->sndbuf = sndbuf;
        atomic_store_explicit(&pooled, slot_count, memory_order_relaxed);
    }
    pthread_mutex_unlock(&pool_lock);
    return added;
}

int cnh_warm_open(const struct sockaddr *address, socklen_t length, int count, uint64_t expires_ns, uint64_t owner) {
    if (address == NULL || (address->sa_family != AF_INET && address->sa_family != AF_INET6)) return 0;
    int saved = errno;
    int opened = 0;
    for (int i = 0; i < count; i++) {
        pthread_mutex_lock(&pool_lock);
        int room = slot_count < capacity;
        pthread_mutex_unlock(&pool_lock);
        if (!room) break;
        int status = 0, error = 0;
        uint64_t start = cnh_monotonic_ns();
        int fd = start_connect(address, length, &status, &error);
        if (fd < 0) break;
        // Linux keeps the defaults until connect; they were read after it here, which is the same for them.
        int rcvbuf = int_option(fd, SOL_SOCKET, SO_RCVBUF, 0);
        int sndbuf = int_option(fd, SOL_SOCKET, SO_SNDBUF, 0);
        if (!pool_add(fd, address, length, start, expires_ns, owner, rcvbuf, sndbuf)) {
            warm_real_close()(fd);
            break;
        }
        opened++;
    }
    errno = saved;
    return opened;
}

int cnh_warm_connect(const struct sockaddr *address, socklen_t length, int timeout_ms, uint64_t expires_ns,
                     uint64_t owner) {
    if (address == NULL || (address->sa_family != AF_INET && address->sa_family != AF_INET6)) return -EAFNOSUPPORT;
    pthread_mutex_lock(&pool_lock);
    int room = slot_count < capacity;
    pthread_mutex_unlock(&pool_lock);
    if (!room) return -EAGAIN;
    int status = 0, error = 0;
    uint64_t start = cnh_monotonic_ns();
    int fd = start_connect(address, length, &status, &error);
    if (fd < 0) return -errno;
    int rcvbuf = int_option(fd, SOL_SOCKET, SO_RCVBUF, 0);
    int sndbuf = int_option(fd, SOL_SOCKET, SO_SNDBUF, 0);
    uint64_t deadline = start + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    while (status != 0) {
        uint64_t now = cnh_monotonic_ns();
        if (now >= deadline) {
            warm_real_close()(fd);
            return -ETIMEDOUT;
        }
        struct pollfd wait = {.fd = fd, .events = POLLOUT, .revents = 0};
        int ready = warm_real_poll()(&wait, 1, (int)((deadline - now + 999999) / 1000000));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) {
            int failure = errno;
            warm_real_close()(fd);
            return -failure;
        }
        if (ready == 0) continue;
        int failure = pending_error(fd);
        if (failure != 0) {
            warm_real_close()(fd);
            return -failure;
        }
        status = 0;
    }
    if (!pool_add(fd, address, length, start, expires_ns, owner, rcvbuf, sndbuf)) {
        warm_real_close()(fd);
        return -EAGAIN;
    }
    return 0;
}

int cnh_warm_count(const struct sockaddr *address, socklen_t length) {
    pthread_mutex_lock(&pool_lock);
    close_matching(0, 0, cnh_monotonic_ns());
    int count = 0;
    for (int i = 0; i < slot_count;) {
        if (health(slots[i].fd) == SLOT_DEAD) {
            warm_real_close()(remove_slot(i));
            continue;
        }
        if (address == NULL || same_address(&slots[i].address, slots[i].length, address, length)) count++;
        i++;
    }
    pthread_mutex_unlock(&pool_lock);
    return count;
}

int cnh_warm_drain(void) { return cnh_warm_close(0, 1); }

int cnh_warm_close(uint64_t owner, int all) {
    pthread_mutex_lock(&pool_lock);
    int closed = close_matching(owner, all, cnh_monotonic_ns());
    pthread_mutex_unlock(&pool_lock);
    return closed;
}

void cnh_warm_set_capacity(int value) {
    pthread_mutex_lock(&pool_lock);
    capacity = value < 1 ? 1 : value > CNH_WARM_MAX_SLOTS ? CNH_WARM_MAX_SLOTS : value;
    pthread_mutex_unlock(&pool_lock);
}

int cnh_warm_capacity(void) {
    pthread_mutex_lock(&pool_lock);
    int value = capacity;
    pthread_mutex_unlock(&pool_lock);
    return value;
}

/// Takes an established, healthy pooled socket to `address` and moves it onto `fd`; 1 when it did (with the
/// instant its connect started in *opened_ns).
static int handover(int fd, const struct sockaddr *address, socklen_t length, uint64_t *opened_ns) {
    if (atomic_load_explicit(&pooled, memory_order_relaxed) == 0 || address == NULL) return 0;
    // Only a TCP socket of the address's family that is not connected yet can take a pooled connection.
    if (int_option(fd, SOL_SOCKET, SO_TYPE, -1) != SOCK_STREAM ||
        int_option(fd, SOL_SOCKET, SO_DOMAIN, -1) != address->sa_family)
        return 0;
    struct warm_slot taken = {.fd = -1};
    pthread_mutex_lock(&pool_lock);
    close_matching(0, 0, cnh_monotonic_ns());
    for (int i = 0; i < slot_count;) {
        if (!same_address(&slots[i].address, slots[i].length, address, length)) {
            i++;
            continue;
        }
        enum slot_health state = health(slots[i].fd);
        if (state == SLOT_DEAD) {
            warm_real_close()(remove_slot(i));
            continue;
        }
        if (state == SLOT_READY) {
            taken = slots[i];
            remove_slot(i);
            break;
        }
        i++;
    }
    pthread_mutex_unlock(&pool_lock);
    if (taken.fd < 0) return 0;
    if (!adopt(taken.fd, fd, taken.rcvbuf, taken.sndbuf)) return 0;
    *opened_ns = taken.opened_ns;
    return 1;
}

// MARK: the thread's connect policy and its attempts in progress

#define PENDING_SLOTS 4
#define SPARED_SLOTS 8

struct pending_connect {
    int fd;
    struct sockaddr_storage address;
    socklen_t length;
    uint64_t start_ns;
    int hedge_fd;  // -1: none running
    int hedged;    // a hedge was started (at most one per attempt)
    int hedge_rcvbuf;
    int hedge_sndbuf;
};

struct connect_policy {
    int active;
    int accept_warm;
    int spares;
    uint64_t spare_idle_ns;
    uint64_t hedge_delay_ns;
    uint64_t owner;
    struct sockaddr_storage spared[SPARED_SLOTS];
    socklen_t spared_length[SPARED_SLOTS];
    int spared_count;
    struct pending_connect pending[PENDING_SLOTS];
    int pending_count;
};

static __thread struct connect_policy policy;
/// Whether poll() must look at the caller's set: a hedge is possible. initial-exec: one load on poll's fast path.
static __thread int poll_watch __attribute__((tls_model("initial-exec")));

static void update_watch(void) {
    int watch = 0;
    if (policy.active && policy.hedge_delay_ns > 0)
        for (int i = 0; i < policy.pending_count; i++)
            if (!policy.pending[i].hedged || policy.pending[i].hedge_fd >= 0) watch = 1;
    poll_watch = watch;
}

static void forget_pending(int index) {
    policy.pending[index] = policy.pending[--policy.pending_count];
    update_watch();
}

static int pending_index(int fd) {
    for (int i = 0; i < policy.pending_count; i++)
        if (policy.pending[i].fd == fd) return i;
    return -1;
}

static void record_hedge_end(cnh_trace *trace, int fd, cnh_hedge_outcome outcome, int error) {
    if (trace)
        cnh_record(trace, cnh_monotonic_ns(), (cnh_event_kind)CNH_EVENT_CONNECT_HEDGE_END, fd, 0, error,
                   (int32_t)outcome, NULL, 0);
}

/// Closes the hedge of pending attempt `index`, if one runs, recording `outcome`.
static void end_hedge(cnh_trace *trace, int index, cnh_hedge_outcome outcome) {
    struct pending_connect *attempt = &policy.pending[index];
    if (attempt->hedge_fd < 0) return;
    warm_real_close()(attempt->hedge_fd);
    attempt->hedge_fd = -1;
    record_hedge_end(trace, attempt->fd, outcome, 0);
}

/// The policy's first connect to `address` succeeded: open its spares (minus what the pool already holds there).
static void open_spares(const struct sockaddr *address, socklen_t length) {
    if (!policy.active || policy.spares <= 0 || address == NULL) return;
    for (int i = 0; i < policy.spared_count; i++)
        if (same_address(&policy.spared[i], policy.spared_length[i], address, length)) return;
    if (policy.spared_count == SPARED_SLOTS || length > sizeof(struct sockaddr_storage)) return;
    memset(&policy.spared[policy.spared_count], 0, sizeof(policy.spared[0]));
    memcpy(&policy.spared[policy.spared_count], address, length);
    policy.spared_length[policy.spared_count++] = length;
    int wanted = policy.spares - cnh_warm_count(address, length);
    if (wanted > 0) cnh_warm_open(address, length, wanted, cnh_monotonic_ns() + policy.spare_idle_ns, policy.owner);
}

int cnh_connect_policy_begin(int accept_warm, int spares, uint64_t spare_idle_ns, uint64_t hedge_delay_ns,
                             uint64_t owner) {
    if (policy.active) return 0;
    memset(&policy, 0, sizeof(policy));
    policy.active = 1;
    policy.accept_warm = accept_warm != 0;
    policy.spares = spares < 0 ? 0 : spares;
    policy.spare_idle_ns = spare_idle_ns;
    policy.hedge_delay_ns = hedge_delay_ns;
    policy.owner = owner;
    update_watch();
    return 1;
}

void cnh_connect_policy_end(uint64_t owner) {
    for (int i = 0; i < policy.pending_count; i++)
        if (policy.pending[i].hedge_fd >= 0) warm_real_close()(policy.pending[i].hedge_fd);
    memset(&policy, 0, sizeof(policy));
    poll_watch = 0;
    if (owner != 0) cnh_warm_close(owner, 1);
}

int cnh_connect_warm_handover(cnh_trace *trace, int fd, const struct sockaddr *address, socklen_t length,
                              uint64_t *opened_ns) {
    (void)trace;
    if (!policy.active || !policy.accept_warm) return 0;
    int saved = errno;
    int moved = handover(fd, address, length, opened_ns);
    errno = saved;
    return moved;
}

void cnh_connect_started(cnh_trace *trace, int fd, const struct sockaddr *address, socklen_t length, int status,
                         int error) {
    (void)trace;
    if (!policy.active || address == NULL || length > sizeof(struct sockaddr_storage)) return;
    if (address->sa_family != AF_INET && address->sa_family != AF_INET6) return;
    int saved = errno;
    if (status == 0) {
        open_spares(address, length);
    } else if (error == EINPROGRESS && (policy.hedge_delay_ns > 0 || policy.spares > 0)) {
        int index = pending_index(fd);
        if (index < 0 && policy.pending_count < PENDING_SLOTS) index = policy.pending_count++;
        if (index >= 0) {
            struct pending_connect *attempt = &policy.pending[index];
            memset(attempt, 0, sizeof(*attempt));
            attempt->fd = fd;
            memcpy(&attempt->address, address, length);
            attempt->length = length;
            attempt->start_ns = cnh_monotonic_ns();
            attempt->hedge_fd = -1;
            update_watch();
        }
    }
    errno = saved;
}

void cnh_connect_settled(cnh_trace *trace, int fd, int error) {
    int index = pending_index(fd);
    if (index < 0) return;
    int saved = errno;
    end_hedge(trace, index, error == 0 ? CNH_HEDGE_ORIGINAL_WON : CNH_HEDGE_ABANDONED);
    if (error == 0)
        open_spares((const struct sockaddr *)&policy.pending[index].address, policy.pending[index].length);
    forget_pending(index);
    errno = saved;
}

void cnh_connect_closing(cnh_trace *trace, int fd) {
    int index = pending_index(fd);
    if (index < 0) return;
    end_hedge(trace, index, CNH_HEDGE_ABANDONED);
    forget_pending(index);
}

// MARK: poll, with the hedges in the set

#define HEDGED_POLL_MAX 16

/// Starts the hedge of pending attempt `index`.
static void start_hedge(cnh_trace *trace, int index) {
    struct pending_connect *attempt = &policy.pending[index];
    attempt->hedged = 1;
    int status = 0, error = 0;
    const struct sockaddr *address = (const struct sockaddr *)&attempt->address;
    int fd = start_connect(address, attempt->length, &status, &error);
    if (fd < 0) error = errno;
    cnh_record(trace, cnh_monotonic_ns(), (cnh_event_kind)CNH_EVENT_CONNECT_HEDGE_START, attempt->fd,
               fd < 0 ? -1 : status, fd < 0 || status < 0 ? error : 0, 0, address, attempt->length);
    if (fd < 0) {
        record_hedge_end(trace, attempt->fd, CNH_HEDGE_FAILED, error);
        return;
    }
    attempt->hedge_fd = fd;
    attempt->hedge_rcvbuf = int_option(fd, SOL_SOCKET, SO_RCVBUF, 0);
    attempt->hedge_sndbuf = int_option(fd, SOL_SOCKET, SO_SNDBUF, 0);
}

/// poll() for a thread with an attempt that may be hedged: the caller's set plus the hedges, the timeout split at
/// the next hedge's start. A hedge that connects is moved onto its attempt's fd, which is then reported writable.
static int hedged_poll(cnh_trace *trace, struct pollfd *fds, nfds_t count, int timeout) {
    if (count > HEDGED_POLL_MAX - PENDING_SLOTS) return warm_real_poll()(fds, count, timeout);
    uint64_t start = cnh_monotonic_ns();
    uint64_t deadline = timeout < 0 ? UINT64_MAX : start + (uint64_t)timeout * 1000000u;
    for (;;) {
        uint64_t now = cnh_monotonic_ns();
        uint64_t next_start = UINT64_MAX;
        struct pollfd set[HEDGED_POLL_MAX];
        int owner_of[HEDGED_POLL_MAX]; // for each extra entry, its pending attempt; for the caller's, -1
        memcpy(set, fds, count * sizeof(*fds));
        nfds_t total = count;
        for (nfds_t i = 0; i < count; i++) {
            set[i].revents = 0;
            owner_of[i] = -1;
        }
        for (int p = 0; p < policy.pending_count; p++) {
            struct pending_connect *attempt = &policy.pending[p];
            int polled = 0;
            for (nfds_t i = 0; i < count; i++)
                if (fds[i].fd == attempt->fd && (fds[i].events & POLLOUT)) polled = 1;
            if (!polled) continue;
            if (!attempt->hedged) {
                uint64_t due = attempt->start_ns + policy.hedge_delay_ns;
                if (now >= due)
                    start_hedge(trace, p);
                else if (due < next_start)
                    next_start = due;
            }
            if (attempt->hedge_fd >= 0) {
                set[total] = (struct pollfd){.fd = attempt->hedge_fd, .events = POLLOUT, .revents = 0};
                owner_of[total++] = p;
            }
        }
        uint64_t until = deadline < next_start ? deadline : next_start;
        int wait = until == UINT64_MAX ? -1 : until <= now ? 0 : (int)((until - now + 999999) / 1000000);
        int ready = warm_real_poll()(set, total, wait);
        if (ready < 0) {
            int saved = errno;
            for (nfds_t i = 0; i < count; i++) fds[i].revents = set[i].revents;
            errno = saved;
            return ready;
        }
        for (nfds_t i = count; i < total; i++) {
            if (set[i].revents == 0) continue;
            struct pending_connect *attempt = &policy.pending[owner_of[i]];
            int error = pending_error(attempt->hedge_fd);
            int hedge = attempt->hedge_fd;
            attempt->hedge_fd = -1;
            if (error == 0 && adopt(hedge, attempt->fd, attempt->hedge_rcvbuf, attempt->hedge_sndbuf)) {
                record_hedge_end(trace, attempt->fd, CNH_HEDGE_WON, 0);
                for (nfds_t j = 0; j < count; j++)
                    if (set[j].fd == attempt->fd) set[j].revents = (short)(POLLOUT & set[j].events);
            } else {
                if (error == 0) error = EBADF; // adopt closed it; dup3 failed
                else warm_real_close()(hedge);
                record_hedge_end(trace, attempt->fd, CNH_HEDGE_FAILED, error);
            }
        }
        update_watch();
        int reported = 0;
        for (nfds_t i = 0; i < count; i++) {
            fds[i].revents = set[i].revents;
            if (set[i].revents) reported++;
        }
        if (reported > 0) return reported;
        if (cnh_monotonic_ns() >= deadline) return 0;
    }
}

int poll(struct pollfd *fds, nfds_t count, int timeout) {
    cnh_trace *trace = cnh_current_trace;
    if (__builtin_expect(trace == NULL || !poll_watch, 1)) return warm_real_poll()(fds, count, timeout);
    return hedged_poll(trace, fds, count, timeout);
}

#else // !CNH_INTERPOSE

int cnh_connect_policy_begin(int accept_warm, int spares, uint64_t spare_idle_ns, uint64_t hedge_delay_ns,
                             uint64_t owner) {
    (void)accept_warm, (void)spares, (void)spare_idle_ns, (void)hedge_delay_ns, (void)owner;
    return 0;
}
void cnh_connect_policy_end(uint64_t owner) { (void)owner; }
#if defined(__linux__)
int cnh_warm_open(const struct sockaddr *address, socklen_t length, int count, uint64_t expires_ns, uint64_t owner) {
    (void)address, (void)length, (void)count, (void)expires_ns, (void)owner;
    return 0;
}
int cnh_warm_connect(const struct sockaddr *address, socklen_t length, int timeout_ms, uint64_t expires_ns,
                     uint64_t owner) {
    (void)address, (void)length, (void)timeout_ms, (void)expires_ns, (void)owner;
    return -38; // ENOSYS
}
int cnh_warm_count(const struct sockaddr *address, socklen_t length) {
    (void)address, (void)length;
    return 0;
}
#endif
int cnh_warm_drain(void) { return 0; }
int cnh_warm_close(uint64_t owner, int all) {
    (void)owner, (void)all;
    return 0;
}
void cnh_warm_set_capacity(int value) { (void)value; }
int cnh_warm_capacity(void) { return 0; }

#endif
