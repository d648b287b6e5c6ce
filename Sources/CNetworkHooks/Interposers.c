// The interposed libc calls. Each hook's untraced path is: load the thread's trace pointer, branch, call the
// real function through a pointer resolved once. Hooks save and restore errno around their bookkeeping.
#include "internal.h"

#if defined(__linux__)
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#endif

static __thread void *lookup_context;

void cnh_set_lookup_context(void *context) { lookup_context = context; }
void *cnh_lookup_context(void) { return lookup_context; }

#if defined(CNH_INTERPOSE)

int cnh_hooks_active(void) { return 1; }

// Resolved lazily (a constructor could run after another library's first call); the relaxed atomics make the
// benign first-use race well defined.
#define CNH_REAL(name)                                                                                          \
    static __typeof__(name) *_Atomic real_##name##_pointer;                                                    \
    static inline __typeof__(name) *real_##name(void) {                                                        \
        __typeof__(name) *pointer = atomic_load_explicit(&real_##name##_pointer, memory_order_relaxed);         \
        if (__builtin_expect(pointer == NULL, 0)) {                                                            \
            pointer = (__typeof__(name) *)cnh_next_symbol(#name);                                              \
            atomic_store_explicit(&real_##name##_pointer, pointer, memory_order_relaxed);                      \
        }                                                                                                      \
        return pointer;                                                                                        \
    }

CNH_REAL(getaddrinfo)
CNH_REAL(freeaddrinfo)
CNH_REAL(connect)
CNH_REAL(getsockopt)
CNH_REAL(send)
CNH_REAL(recv)
CNH_REAL(shutdown)
CNH_REAL(close)

// Quick ACKs (cnh_trace_set_quick_ack). Setting TCP_QUICKACK leaves Linux's "interactive" (pingpong) mode and,
// once the receive buffer is drained, sends the ACK the kernel was holding back for the delayed-ACK timer; the
// kernel re-enters that mode by itself as soon as this side sends, so it is set again after every receive. Set
// after the receive, not before: the bytes just read are then acknowledged at once (measured against nginx-rtmp:
// after each receive, or before it, removes every stall of the server's Nagle; once at connect does not).
static void rearm_quick_ack(int fd) {
#ifdef TCP_QUICKACK
    int on = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
#else
    (void)fd;
#endif
}

// MARK: getaddrinfo / freeaddrinfo

static cnh_resolver_fn _Atomic installed_resolver;

void cnh_set_resolver(cnh_resolver_fn resolver) {
    atomic_store_explicit(&installed_resolver, resolver, memory_order_release);
}

int cnh_real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                         struct addrinfo **result) {
    return real_getaddrinfo()(node, service, hints, result);
}

void cnh_real_freeaddrinfo(struct addrinfo *list) {
    if (!cnh_addrinfo_release_if_ours(list)) real_freeaddrinfo()(list);
}

/// The answers of a lookup as [u32 length][sockaddr] records, consecutive duplicates (one per socktype) folded.
static size_t pack_answers(const struct addrinfo *list, uint8_t *buffer, size_t capacity) {
    size_t used = 0;
    const struct sockaddr *previous = NULL;
    socklen_t previous_length = 0;
    for (const struct addrinfo *info = list; info != NULL; info = info->ai_next) {
        if (info->ai_addr == NULL) continue;
        if (previous && previous_length == info->ai_addrlen && memcmp(previous, info->ai_addr, previous_length) == 0)
            continue;
        uint32_t length = info->ai_addrlen;
        if (used + sizeof(length) + length > capacity) break;
        memcpy(buffer + used, &length, sizeof(length));
        memcpy(buffer + used + sizeof(length), info->ai_addr, length);
        used += sizeof(length) + length;
        previous = info->ai_addr;
        previous_length = info->ai_addrlen;
    }
    return used;
}

int getaddrinfo(const char *restrict node, const char *restrict service, const struct addrinfo *restrict hints,
                struct addrinfo **restrict result) {
    cnh_trace *trace = cnh_current_trace;
    cnh_resolver_fn resolver = atomic_load_explicit(&installed_resolver, memory_order_acquire);
    if (__builtin_expect(trace == NULL && resolver == NULL, 1)) return real_getaddrinfo()(node, service, hints, result);

    if (trace) {
        char names[512];
        int length = snprintf(names, sizeof(names), "%s%c%s", node ? node : "", 0, service ? service : "");
        if (length < 0) length = 0;
        if ((size_t)length >= sizeof(names)) length = sizeof(names) - 1;
        cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_LOOKUP_START, -1, 0, hints ? hints->ai_flags : 0,
                   hints ? hints->ai_family : 0,
                   names, (size_t)length + 1);
    }
    int32_t source = CNH_SOURCE_SYSTEM;
    int32_t detail = CNH_DETAIL_NONE;
    int status = CNH_NOT_HANDLED;
    if (resolver) status = resolver(node, service, hints, result, &source, &detail);
    if (status == CNH_NOT_HANDLED) {
        if (source != CNH_SOURCE_LITERAL) source = CNH_SOURCE_SYSTEM;
        status = real_getaddrinfo()(node, service, hints, result);
    }
    if (trace) {
        int saved = errno;
        uint8_t answers[32 * (sizeof(uint32_t) + sizeof(struct sockaddr_in6))];
        size_t length = status == 0 ? pack_answers(*result, answers, sizeof(answers)) : 0;
        cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_LOOKUP_END, -1, status, detail, source, answers, length);
        errno = saved;
    }
    return status;
}

void freeaddrinfo(struct addrinfo *list) {
    if (!cnh_addrinfo_release_if_ours(list)) real_freeaddrinfo()(list);
}

// MARK: connect and its completion

int connect(int fd, const struct sockaddr *address, socklen_t length) {
    cnh_trace *trace = cnh_current_trace;
    if (__builtin_expect(trace == NULL, 1)) return real_connect()(fd, address, length);
    cnh_forget_fd(trace, fd);
    cnh_trace_count_connect(trace);
    cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_CONNECT_START, fd, 0, 0, 0, address, address ? length : 0);
    // Warm connections (WarmConnections.c): an established pooled connection instead of a handshake.
    uint64_t warm_since = 0;
    if (cnh_connect_warm_handover(trace, fd, address, length, &warm_since)) {
        cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_CONNECT_RETURN, fd, 0, 0, CNH_CONNECT_WARM, &warm_since,
                   sizeof(warm_since));
        cnh_record_tcp_sample(trace, fd, CNH_TCP_SAMPLE_CONNECTED);
        cnh_connect_started(trace, fd, address, length, 0, 0);
        return 0;
    }
    int status = real_connect()(fd, address, length);
    int saved = errno;
    cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_CONNECT_RETURN, fd, status, status < 0 ? saved : 0, 0, NULL, 0);
    cnh_connect_started(trace, fd, address, length, status, saved); // hedges and spares (WarmConnections.c)
    if (status == 0) cnh_record_tcp_sample(trace, fd, CNH_TCP_SAMPLE_CONNECTED);
    errno = saved;
    return status;
}

int getsockopt(int fd, int level, int name, void *restrict value, socklen_t *restrict length) {
    cnh_trace *trace = cnh_current_trace;
    if (__builtin_expect(trace == NULL, 1)) return real_getsockopt()(fd, level, name, value, length);
    int status = real_getsockopt()(fd, level, name, value, length);
    // FFmpeg learns a non-blocking connect's outcome by poll() and then SO_ERROR.
    if (status == 0 && level == SOL_SOCKET && name == SO_ERROR && value && length && *length >= sizeof(int)) {
        int saved = errno;
        cnh_connect_settled(trace, fd, *(int *)value); // hedges and spares (WarmConnections.c)
        cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_SOCKET_ERROR, fd, 0, *(int *)value, 0, NULL, 0);
        if (*(int *)value == 0) cnh_record_tcp_sample(trace, fd, CNH_TCP_SAMPLE_CONNECTED);
        errno = saved;
    }
    return status;
}

// MARK: send / recv / shutdown / close

ssize_t send(int fd, const void *buffer, size_t size, int flags) {
    cnh_trace *trace = cnh_current_trace;
    if (__builtin_expect(trace == NULL, 1)) return real_send()(fd, buffer, size, flags);
    uint64_t start = cnh_monotonic_ns();
    ssize_t sent = real_send()(fd, buffer, size, flags);
    int saved = errno;
    cnh_record_transfer(trace, start, CNH_EVENT_SEND, fd, sent, sent < 0 ? saved : 0, buffer, size);
    errno = saved;
    return sent;
}

ssize_t recv(int fd, void *buffer, size_t size, int flags) {
    cnh_trace *trace = cnh_current_trace;
    if (__builtin_expect(trace == NULL, 1)) return real_recv()(fd, buffer, size, flags);
    ssize_t received = real_recv()(fd, buffer, size, flags);
    uint64_t end = cnh_monotonic_ns();
    int saved = errno;
    if (trace->quick_ack && received > 0) rearm_quick_ack(fd);
    cnh_record_transfer(trace, end, CNH_EVENT_RECV, fd, received, received < 0 ? saved : 0, buffer, size);
    errno = saved;
    return received;
}

ssize_t cnh_real_recv(int fd, void *buffer, size_t size, int flags) {
    return real_recv()(fd, buffer, size, flags);
}

int shutdown(int fd, int how) {
    cnh_trace *trace = cnh_current_trace;
    if (__builtin_expect(trace == NULL, 1)) return real_shutdown()(fd, how);
    int saved = errno;
    cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_SHUTDOWN, fd, 0, 0, how, NULL, 0);
    errno = saved;
    return real_shutdown()(fd, how);
}

int close(int fd) {
    cnh_trace *trace = cnh_current_trace;
    if (__builtin_expect(trace == NULL, 1)) return real_close()(fd);
    int saved = errno;
    cnh_record_tcp_sample(trace, fd, CNH_TCP_SAMPLE_CLOSING);
    cnh_forget_fd(trace, fd);
    cnh_connect_closing(trace, fd); // a hedge of an attempt abandoned (WarmConnections.c)
    cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_CLOSE, fd, 0, 0, 0, NULL, 0);
    errno = saved;
    return real_close()(fd);
}

// MARK: TLS (gnutls, which Debian's libavformat uses): the handshake's exact bounds

int gnutls_handshake(void *session);
CNH_REAL(gnutls_handshake)
// Not interposed, only called: whether the handshake that just succeeded resumed an earlier session.
int gnutls_session_is_resumed(void *session);
CNH_REAL(gnutls_session_is_resumed)
// Not interposed, only called: the negotiated version (GNUTLS_TLS1_2 = 4, GNUTLS_TLS1_3 = 5), which says how many
// round trips the handshake needed.
int gnutls_protocol_get_version(void *session);
CNH_REAL(gnutls_protocol_get_version)

int gnutls_handshake(void *session) {
    cnh_trace *trace = cnh_current_trace;
    __typeof__(gnutls_handshake) *real = real_gnutls_handshake();
    if (real == NULL) return -59; // GNUTLS_E_INTERNAL_ERROR: cannot happen once gnutls is loaded
    if (__builtin_expect(trace == NULL, 1)) return real(session);
    int session_fd = cnh_session_fd(trace, session);
    cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_TLS_HANDSHAKE_START, session_fd, 0, 0, 0, NULL, 0);
    int status = real(session);
    uint64_t end = cnh_monotonic_ns();
    int saved = errno;
    // After the stamp: the resumption check is bookkeeping, not handshake time.
    int32_t resumed = -1;
    int32_t version = 0;
    if (status == 0) {
        __typeof__(gnutls_session_is_resumed) *is_resumed = real_gnutls_session_is_resumed();
        if (is_resumed != NULL) resumed = is_resumed(session) != 0;
        __typeof__(gnutls_protocol_get_version) *get_version = real_gnutls_protocol_get_version();
        if (get_version != NULL) version = get_version(session);
    }
    cnh_record(trace, end, CNH_EVENT_TLS_HANDSHAKE_END, session_fd, status, version, resumed, NULL, 0);
    errno = saved;
    return status;
}

// A session freed here may be followed by another at the same address: it must not inherit the old one's
// pseudo-fd (an HTTPS redirect to HTTPS would lose the second hop's plaintext).
void gnutls_deinit(void *session);
CNH_REAL(gnutls_deinit)

void gnutls_deinit(void *session) {
    cnh_trace *trace = cnh_current_trace;
    __typeof__(gnutls_deinit) *real = real_gnutls_deinit();
    if (trace) cnh_forget_session(trace, session);
    if (real) real(session);
}

// The plaintext side of the TLS session: the HTTP request and response heads that the socket only carries
// encrypted, and the first application byte (a TLS 1.3 session ticket arrives before the response and is not it).
// Recorded on the session's pseudo-fd, with turns of their own.
ssize_t gnutls_record_send(void *session, const void *data, size_t size);
ssize_t gnutls_record_recv(void *session, void *data, size_t size);
CNH_REAL(gnutls_record_send)
CNH_REAL(gnutls_record_recv)

ssize_t gnutls_record_send(void *session, const void *data, size_t size) {
    cnh_trace *trace = cnh_current_trace;
    __typeof__(gnutls_record_send) *real = real_gnutls_record_send();
    if (real == NULL) return -59;
    if (__builtin_expect(trace == NULL, 1)) return real(session, data, size);
    uint64_t start = cnh_monotonic_ns();
    ssize_t sent = real(session, data, size);
    int saved = errno;
    if (sent != -28 && sent != -52) // GNUTLS_E_AGAIN / GNUTLS_E_INTERRUPTED: nothing went out, FFmpeg retries
        cnh_record_transfer(trace, start, CNH_EVENT_TLS_SEND, cnh_session_fd(trace, session), sent, 0, data, size);
    errno = saved;
    return sent;
}

ssize_t gnutls_record_recv(void *session, void *data, size_t size) {
    cnh_trace *trace = cnh_current_trace;
    __typeof__(gnutls_record_recv) *real = real_gnutls_record_recv();
    if (real == NULL) return -59;
    if (__builtin_expect(trace == NULL, 1)) return real(session, data, size);
    ssize_t received = real(session, data, size);
    int saved = errno;
    if (received != -28 && received != -52) // GNUTLS_E_AGAIN / GNUTLS_E_INTERRUPTED: nothing happened
        cnh_record_transfer(trace, cnh_monotonic_ns(), CNH_EVENT_TLS_RECV, cnh_session_fd(trace, session), received, 0,
                            data, size);
    errno = saved;
    return received;
}

#else // !CNH_INTERPOSE: stubs; libc (or a sanitizer's interceptors) keep the names.

int cnh_hooks_active(void) { return 0; }

#if defined(__linux__)
void cnh_set_resolver(cnh_resolver_fn resolver) { (void)resolver; }

int cnh_real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                         struct addrinfo **result) {
    return getaddrinfo(node, service, hints, result);
}

void cnh_real_freeaddrinfo(struct addrinfo *list) {
    if (!cnh_addrinfo_release_if_ours(list)) freeaddrinfo(list);
}

ssize_t cnh_real_recv(int fd, void *buffer, size_t size, int flags) { return recv(fd, buffer, size, flags); }
#endif

#endif
