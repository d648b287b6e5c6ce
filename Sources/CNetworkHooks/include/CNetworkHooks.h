// CNetworkHooks: the libc calls FFmpeg makes for DNS and TCP, interposed.
//
// A function defined in the executable wins over libc's, for libavformat too (ELF interposition), and
// dlsym(RTLD_NEXT, ...) reaches the real one. These hooks are small and dumb: when the calling thread is not
// tracing and no resolver is installed they cost one thread-local load and a branch; when it is tracing they
// append a timestamped event (CLOCK_MONOTONIC ns) to that thread's trace. Every decision lives in Swift.
//
// Linux only for now; elsewhere (and under a sanitizer, whose own interceptors own these names) the target
// compiles to stubs and cnh_hooks_active() returns 0.
#ifndef CNETWORKHOOKS_H
#define CNETWORKHOOKS_H

#include <stddef.h>
#include <stdint.h>
#if defined(__linux__)
#include <netdb.h>
#include <sys/socket.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the hooks interpose libc in this build, 0 when they are stubs.
int cnh_hooks_active(void);

typedef enum {
    CNH_EVENT_LOOKUP_START = 1,   ///< data: host NUL service NUL; aux: hints family; error: hints flags
    CNH_EVENT_LOOKUP_END = 2,     ///< result: EAI code; aux: source; error: detail; data: answers
    CNH_EVENT_CONNECT_START = 3,  ///< data: the sockaddr, whole
    CNH_EVENT_CONNECT_RETURN = 4, ///< result: connect's return; error: errno (EINPROGRESS: still connecting)
    CNH_EVENT_SOCKET_ERROR = 5,   ///< getsockopt(SO_ERROR): error: the pending error it returned (0 = connected)
    CNH_EVENT_SEND = 6,           ///< stamped before the call; result: bytes or -1; error: errno; data: first bytes of a turn
    CNH_EVENT_RECV = 7,           ///< stamped on return; result: bytes, 0 at EOF or -1; error: errno; data: first bytes of a turn
    CNH_EVENT_SHUTDOWN = 8,       ///< aux: how
    CNH_EVENT_CLOSE = 9,
    CNH_EVENT_TLS_HANDSHAKE_START = 10, ///< gnutls_handshake entered; fd: the session's pseudo-fd
    CNH_EVENT_TLS_HANDSHAKE_END = 11,   ///< gnutls_handshake returned; result: its return; fd: the session's;
                                        ///< aux: after a successful handshake, 1 if gnutls_session_is_resumed
                                        ///< (an earlier session's ticket or ID was accepted), 0 if it was a full
                                        ///< handshake; -1 when the handshake did not succeed (yet);
                                        ///< error: after a successful handshake, gnutls' protocol version
                                        ///< (GNUTLS_TLS1_2 = 4, GNUTLS_TLS1_3 = 5), else 0
    CNH_EVENT_MARK = 12,          ///< data: a label from the caller
    CNH_EVENT_TLS_SEND = 13,      ///< gnutls_record_send (plaintext); fd: the session's pseudo-fd; as SEND
    CNH_EVENT_TLS_RECV = 14,      ///< gnutls_record_recv (plaintext); fd: the session's pseudo-fd; as RECV
    CNH_EVENT_TCP_INFO = 15,      ///< the socket's TCP_INFO; aux: a cnh_tcp_sample_reason; data: a cnh_tcp_sample
} cnh_event_kind;

/// When a CNH_EVENT_TCP_INFO sample was taken (its aux).
typedef enum {
    CNH_TCP_SAMPLE_CONNECTED = 1, ///< the connect just succeeded: the RTT is the SYN's round trip
    CNH_TCP_SAMPLE_CLOSING = 2,   ///< just before close(): everything the connection did while traced
    CNH_TCP_SAMPLE_ASKED = 3,     ///< cnh_trace_sample_sockets (the opener asks at the first picture)
} cnh_tcp_sample_reason;

/// What a CNH_EVENT_TCP_INFO event carries: the fields of Linux's `struct tcp_info` that say how the link
/// behaved, from this (receiving) side. Times in microseconds. A trace from a kernel without a field has 0.
typedef struct {
    uint32_t rtt_us;          ///< smoothed RTT (tcpi_rtt): from the SYN's round trip and the request's ACKs
    uint32_t rtt_var_us;      ///< its variation (tcpi_rttvar)
    uint32_t min_rtt_us;      ///< the least RTT seen (tcpi_min_rtt)
    uint32_t receiver_rtt_us; ///< the receiver's RTT estimate from the data it got (tcpi_rcv_rtt; 0: none yet)
    uint32_t total_retransmits; ///< segments this side retransmitted: SYNs, requests (tcpi_total_retrans)
    uint32_t out_of_order_packets; ///< packets that arrived after a hole: the server's were lost or reordered
                                   ///< on the way down (tcpi_rcv_ooopack)
    uint32_t segments_in;     ///< segments received (tcpi_segs_in)
    uint32_t data_segments_in; ///< segments received with data (tcpi_data_segs_in)
    uint32_t receive_mss;     ///< the largest segment the peer sends us (tcpi_rcv_mss)
    uint32_t send_mss;        ///< (tcpi_snd_mss)
    uint32_t send_cwnd;       ///< this side's congestion window in segments (tcpi_snd_cwnd)
    uint32_t state;           ///< TCP_ESTABLISHED = 1, … (tcpi_state)
    uint64_t bytes_received;  ///< payload bytes received (tcpi_bytes_received)
    uint64_t bytes_acked;     ///< payload bytes this side sent that were acknowledged (tcpi_bytes_acked)
} cnh_tcp_sample;

/// Where a lookup's answer came from (LOOKUP_END aux).
typedef enum {
    CNH_SOURCE_SYSTEM = 0,   ///< libc getaddrinfo
    CNH_SOURCE_CACHE = 1,    ///< a fresh cache entry
    CNH_SOURCE_STALE = 2,    ///< an expired entry served while it is refreshed
    CNH_SOURCE_RESOLVER = 3, ///< a cache miss, resolved by the cache's resolvers
    CNH_SOURCE_LITERAL = 4,  ///< the host was an address literal
    CNH_SOURCE_NEGATIVE = 5, ///< a cached failure
} cnh_lookup_source;

/// Why a lookup failed, beyond its EAI code (LOOKUP_END error).
typedef enum {
    CNH_DETAIL_NONE = 0,
    CNH_DETAIL_TIMED_OUT = 1,
    CNH_DETAIL_CANCELLED = 2,
    CNH_DETAIL_HEDGE_ANSWERED = 3, ///< not a failure: the hedged second query answered, not the first
} cnh_lookup_detail;

/// One event. 40 bytes; variable data lives in the trace's byte arena.
typedef struct {
    uint64_t time_ns;
    int64_t result;
    int32_t kind;
    int32_t fd;
    int32_t error;
    int32_t aux;
    uint32_t data_offset;
    uint32_t data_length;
} cnh_event;

/// gnutls calls carry a session, not a socket: their events carry a pseudo-fd, CNH_SESSION_FD_BASE - n, one per
/// session in the trace.
#define CNH_SESSION_FD_BASE (-100)

typedef struct cnh_trace cnh_trace;

/// Starts tracing the calling thread; events go to the returned trace until cnh_trace_end. Nests: an inner
/// trace's events are also appended to the outer one when it ends. Returns NULL when out of memory.
cnh_trace *cnh_trace_begin(uint32_t capture_bytes_per_turn);
/// Stops tracing (must be called on the thread that began) and restores the enclosing trace, if any.
void cnh_trace_end(cnh_trace *trace);
/// With `enabled` non-zero, every receive the trace sees re-arms TCP_QUICKACK on its socket (Linux; elsewhere
/// nothing happens), so the peer's next small segments are acknowledged at once rather than after the delayed-ACK
/// timer (~40 ms): a server that writes its answer in several small pieces under Nagle waits for that ACK between
/// them. Linux's quick-ACK mode is not sticky (the kernel goes back to delayed ACKs once the connection looks
/// interactive), hence every receive. Applies while `trace` is the thread's innermost trace; an inner trace begun
/// inside it starts with the same setting.
void cnh_trace_set_quick_ack(cnh_trace *trace, int enabled);
void cnh_trace_free(cnh_trace *trace);
/// Whether the calling thread is tracing.
int cnh_trace_is_active(void);
/// The calling thread's innermost trace (NULL when not tracing), to read what it holds so far.
cnh_trace *cnh_trace_current(void);
/// Appends a MARK event with a label to the calling thread's trace, if any.
void cnh_trace_mark(const char *label);
/// Appends a CNH_EVENT_TCP_INFO event (reason CNH_TCP_SAMPLE_ASKED) for every socket the calling thread's trace has
/// seen transfer and not closed, if it is tracing. The hooks also sample each socket when its connect succeeds and
/// before it is closed.
void cnh_trace_sample_sockets(void);

uint64_t cnh_trace_start_ns(const cnh_trace *trace);
size_t cnh_trace_event_count(const cnh_trace *trace);
const cnh_event *cnh_trace_events(const cnh_trace *trace);
const uint8_t *cnh_trace_bytes(const cnh_trace *trace);
/// Events that could not be stored (allocation failure).
size_t cnh_trace_dropped(const cnh_trace *trace);
/// How many connect() calls and HTTP request heads (plain or through TLS) the trace has seen so far: cheap
/// enough to read on every interrupt poll (a cap on requests per open). A NULL trace counts zero.
void cnh_trace_counts(const cnh_trace *trace, uint32_t *connects, uint32_t *http_requests);

uint64_t cnh_monotonic_ns(void);

// MARK: - Resolver

/// Returned by a resolver that does not answer this query: the real getaddrinfo runs instead.
#define CNH_NOT_HANDLED (-100000)

#if defined(__linux__)
/// The process-wide resolver consulted by the getaddrinfo hook. It returns 0 with *result set (a list from
/// cnh_addrinfo_make), an EAI_* code, or CNH_NOT_HANDLED; it may set *source and *detail.
typedef int (*cnh_resolver_fn)(const char *node, const char *service, const struct addrinfo *hints,
                               struct addrinfo **result, int32_t *source, int32_t *detail);

/// Installs (or, with NULL, removes) the resolver. Lookups already inside the old one finish there.
void cnh_set_resolver(cnh_resolver_fn resolver);

/// Builds an addrinfo list the hooks own: freeaddrinfo recognises it and frees it here, never in libc.
/// `addresses` holds `count` sockaddr_in / sockaddr_in6 (by family) packed in sockaddr_storage slots; every
/// address gets one node per (socktype, protocol) pair. Returns NULL when out of memory.
struct addrinfo *cnh_addrinfo_make(const struct sockaddr_storage *addresses, int count,
                                   const int *socktypes, const int *protocols, int kinds,
                                   const char *canonical_name);

/// The real libc getaddrinfo / freeaddrinfo, bypassing the hooks (for the system resolver).
int cnh_real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                         struct addrinfo **result);
void cnh_real_freeaddrinfo(struct addrinfo *list);

/// A DNS query through libresolv (res_nquery) for the raw answer, so the caller can read record TTLs.
/// `server` (a sockaddr_in or sockaddr_in6), when not NULL, replaces every configured name server. Returns the
/// answer's length or -1
/// (with *h_error set from h_errno).
int cnh_res_query(const char *host, int type, const struct sockaddr *server, int timeout_seconds,
                  int attempts, uint8_t *answer, int answer_capacity, int *h_error);
#endif

// MARK: - Warm connections and connect hedging (WarmConnections.c)
//
// A process-wide pool of TCP sockets already connected (or connecting) to a destination. When a thread whose
// connect policy accepts warm connections calls connect(fd, address) and the pool holds an established, healthy
// socket to exactly that address, the hook moves it onto the caller's fd (dup3, carrying over the caller's
// O_NONBLOCK, FD_CLOEXEC, TCP_NODELAY and any SO_RCVBUF/SO_SNDBUF it set) and connect returns 0: no handshake.
// With a hedge delay, a non-blocking connect still in progress after that long gets a second attempt to the same
// address, started inside the caller's own poll(); the first to connect ends up on the caller's fd.

/// Event kinds of this part (numbered from 20, apart from the core kinds above).
typedef enum {
    /// A second connect to the address of an attempt still in progress. fd: the caller's socket; data: the
    /// sockaddr; result: the hedge's connect() return; error: its errno (EINPROGRESS: connecting).
    CNH_EVENT_CONNECT_HEDGE_START = 20,
    /// How a hedged attempt ended. fd: the caller's socket; aux: a cnh_hedge_outcome; error: the hedge's own
    /// pending error when it failed.
    CNH_EVENT_CONNECT_HEDGE_END = 21,
} cnh_connect_event_kind;

/// CONNECT_RETURN aux: how the connect was made.
typedef enum {
    CNH_CONNECT_NEW = 0,  ///< the kernel's own connect
    CNH_CONNECT_WARM = 1, ///< handed a pooled, established connection; data: u64 ns it had been established since
} cnh_connect_kind;

/// CONNECT_HEDGE_END aux.
typedef enum {
    CNH_HEDGE_ORIGINAL_WON = 0, ///< the caller's own attempt connected first; the hedge was closed
    CNH_HEDGE_WON = 1,          ///< the hedge connected first and now is the caller's fd
    CNH_HEDGE_FAILED = 2,       ///< the hedge failed (error: why); the caller's attempt goes on alone
    CNH_HEDGE_ABANDONED = 3,    ///< the caller's attempt failed or was closed first; the hedge was closed
} cnh_hedge_outcome;

/// The calling thread's connect policy, from now until cnh_connect_policy_end: whether its connects may be
/// handed warm connections, how many spare connections to open (owned by `owner`, closed by
/// cnh_connect_policy_end unless used, never kept past `spare_idle_ns`) as soon as a connect to an address first
/// succeeds, and after how long an attempt still connecting is hedged (0: never). Applies only while the thread is
/// tracing (cnh_trace_begin). Returns 1, or 0 (changing nothing) when the thread already has a policy: an inner
/// capture keeps its enclosing one's.
int cnh_connect_policy_begin(int accept_warm, int spares, uint64_t spare_idle_ns, uint64_t hedge_delay_ns,
                              uint64_t owner);
/// Ends the calling thread's policy: closes any hedge still connecting and the spares `owner` left unused.
void cnh_connect_policy_end(uint64_t owner);

#if defined(__linux__)
/// Starts `count` non-blocking connects to `address` and pools them (as connecting); they expire at
/// `expires_ns` (CLOCK_MONOTONIC). Returns how many were pooled (fewer when the pool is full or socket() fails).
int cnh_warm_open(const struct sockaddr *address, socklen_t length, int count, uint64_t expires_ns, uint64_t owner);
/// Connects to `address`, waiting at most `timeout_ms`, and pools the established socket. Returns 0, or a
/// negative errno (-EAGAIN: the pool is full; -ETIMEDOUT). Blocks: call it off Swift's cooperative pool.
int cnh_warm_connect(const struct sockaddr *address, socklen_t length, int timeout_ms, uint64_t expires_ns,
                     uint64_t owner);
/// Pooled sockets to `address` (all of them when NULL), connecting or established, after closing the dead.
int cnh_warm_count(const struct sockaddr *address, socklen_t length);
#endif
/// Closes every pooled socket; returns how many.
int cnh_warm_drain(void);
/// Closes the pooled sockets of `owner` (0: whatever their owner) past their expiry, or all of `owner`'s with
/// `all`; returns how many.
int cnh_warm_close(uint64_t owner, int all);
/// The most sockets the pool holds (1...CNH_WARM_MAX_SLOTS; default 8): opening more fails.
void cnh_warm_set_capacity(int capacity);
int cnh_warm_capacity(void);
#define CNH_WARM_MAX_SLOTS 32

/// A per-thread pointer for the resolver (e.g. the lookup deadline of the open running on this thread).
void cnh_set_lookup_context(void *context);
void *cnh_lookup_context(void);

#ifdef __cplusplus
}
#endif

#endif
