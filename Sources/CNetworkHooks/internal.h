// Shared between the files of CNetworkHooks; not part of its interface.
#ifndef CNETWORKHOOKS_INTERNAL_H
#define CNETWORKHOOKS_INTERNAL_H

#include "include/CNetworkHooks.h"

// Sanitizer runtimes interpose these same names; under one, the hooks step aside.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define CNH_UNDER_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CNH_UNDER_SANITIZER 1
#endif

#if defined(__linux__) && !defined(CNH_UNDER_SANITIZER)
#define CNH_INTERPOSE 1
#endif

/// How many sockets a trace remembers capture state for; beyond that, a free slot (its socket closed) is taken
/// first, else the least recently used one.
#define CNH_FD_SLOTS 32
/// How many live TLS sessions a trace tells apart at once (a session leaves its slot at gnutls_deinit).
#define CNH_SESSION_SLOTS 16

struct cnh_fd_turn {
    int fd;          // -1: free
    int direction;   // the kind of the last transfer: SEND or RECV
    uint32_t captured;
    uint64_t used;   // the trace's use counter when the slot was last touched
};

struct cnh_session_slot {
    void *session;   // NULL: free
    int pseudo_fd;
};

// Defined here, not in TraceBuffer.c, so that the hooks read `quick_ack` with one load and a branch.
struct cnh_trace {
    uint64_t start_ns;
    cnh_event *events;
    size_t count;
    size_t capacity;
    uint8_t *bytes;
    size_t byte_count;
    size_t byte_capacity;
    size_t dropped;
    uint32_t capture_per_turn;
    struct cnh_fd_turn turns[CNH_FD_SLOTS];
    uint64_t uses;
    struct cnh_session_slot sessions[CNH_SESSION_SLOTS];
    unsigned next_session; // sessions seen: the next one is CNH_SESSION_FD_BASE - next_session (never reused)
    uint32_t connects;      // connect() calls
    uint32_t http_requests; // request heads sent, in the clear or through TLS
    int quick_ack;          // re-arm TCP_QUICKACK after each receive (cnh_trace_set_quick_ack)
    cnh_trace *outer;
};

/// The calling thread's innermost trace, or NULL. initial-exec: a plain %fs-relative load, no call.
extern __thread cnh_trace *cnh_current_trace __attribute__((tls_model("initial-exec")));

/// Appends an event stamped `time_ns` to `trace`; `data` (may be NULL) is copied into the byte arena.
void cnh_record(cnh_trace *trace, uint64_t time_ns, cnh_event_kind kind, int fd, int64_t result, int32_t error, int32_t aux,
                const void *data, size_t length);

/// Appends a SEND/RECV event, copying at most what is left of the fd's capture budget for this turn (and never
/// more than `size`, the caller's buffer).
void cnh_record_transfer(cnh_trace *trace, uint64_t time_ns, cnh_event_kind kind, int fd, int64_t result, int32_t error,
                         const void *data, size_t size);

/// The pseudo-fd (CNH_SESSION_FD_BASE and below) standing for a gnutls session in this trace.
int cnh_session_fd(cnh_trace *trace, void *session);

/// Frees the session's slot (gnutls_deinit): a later session at the same address gets a pseudo-fd of its own.
void cnh_forget_session(cnh_trace *trace, void *session);

/// Counts a connect() for cnh_trace_counts.
void cnh_trace_count_connect(cnh_trace *trace);

/// Appends a CNH_EVENT_TCP_INFO event for `fd` with `reason` (a cnh_tcp_sample_reason), if it is a TCP socket.
void cnh_record_tcp_sample(cnh_trace *trace, int fd, int reason);

/// Forgets the capture state of an fd (connected anew or closed).
void cnh_forget_fd(cnh_trace *trace, int fd);

/// dlsym(RTLD_NEXT, name): the definition after ours, normally libc's.
void *cnh_next_symbol(const char *name);

#if defined(CNH_INTERPOSE)
// The connect hooks' part in WarmConnections.c (the thread's connect policy: warm hand-over, spares, hedges).
/// Moves an established pooled connection to `address` onto `fd` when the policy accepts one; 1 if it did.
int cnh_connect_warm_handover(cnh_trace *trace, int fd, const struct sockaddr *address, socklen_t length,
                              uint64_t *opened_ns);
/// connect() returned `status` (errno `error`): remembers an attempt in progress, or opens the spares.
void cnh_connect_started(cnh_trace *trace, int fd, const struct sockaddr *address, socklen_t length, int status,
                         int error);
/// getsockopt(SO_ERROR) told the caller the attempt's outcome: ends its hedge, opens the spares on success.
void cnh_connect_settled(cnh_trace *trace, int fd, int error);
/// The caller closes `fd`: an attempt still connecting there is abandoned with its hedge.
void cnh_connect_closing(cnh_trace *trace, int fd);
#endif

#if defined(__linux__)
/// Frees `list` if it came from cnh_addrinfo_make; returns 0 if it did not (then it is libc's).
int cnh_addrinfo_release_if_ours(struct addrinfo *list);
#endif

#endif
