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

/// Forgets the capture state of an fd (connected anew or closed).
void cnh_forget_fd(cnh_trace *trace, int fd);

/// dlsym(RTLD_NEXT, name): the definition after ours, normally libc's.
void *cnh_next_symbol(const char *name);

#if defined(__linux__)
/// Frees `list` if it came from cnh_addrinfo_make; returns 0 if it did not (then it is libc's).
int cnh_addrinfo_release_if_ours(struct addrinfo *list);
#endif

#endif
