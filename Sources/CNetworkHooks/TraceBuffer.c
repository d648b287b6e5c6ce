// A thread's trace: an event array and a byte arena, both growable, touched only by the tracing thread.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

__thread cnh_trace *cnh_current_trace __attribute__((tls_model("initial-exec"))) = NULL;

uint64_t cnh_monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

cnh_trace *cnh_trace_begin(uint32_t capture_bytes_per_turn) {
    cnh_trace *trace = calloc(1, sizeof(cnh_trace));
    if (trace == NULL) return NULL;
    trace->capture_per_turn = capture_bytes_per_turn;
    for (int i = 0; i < CNH_FD_SLOTS; i++) trace->turns[i].fd = -1;
    trace->outer = cnh_current_trace;
    if (trace->outer != NULL) {
        // Continue each socket's turn and each session's number where the enclosing trace is.
        memcpy(trace->turns, trace->outer->turns, sizeof(trace->turns));
        trace->uses = trace->outer->uses;
        memcpy(trace->sessions, trace->outer->sessions, sizeof(trace->sessions));
        trace->next_session = trace->outer->next_session;
        // An inner capture runs inside the outer one's open: the sockets keep being acknowledged the same way.
        trace->quick_ack = trace->outer->quick_ack;
    }
    trace->start_ns = cnh_monotonic_ns();
    cnh_current_trace = trace;
    return trace;
}

static void append_all(cnh_trace *outer, const cnh_trace *inner) {
    for (size_t i = 0; i < inner->count; i++) {
        const cnh_event *event = &inner->events[i];
        cnh_record(outer, event->time_ns, (cnh_event_kind)event->kind, event->fd, event->result, event->error, event->aux,
                   event->data_length ? inner->bytes + event->data_offset : NULL, event->data_length);
    }
}

void cnh_trace_end(cnh_trace *trace) {
    if (trace == NULL) return;
    // Only a trace on this thread's chain can be ended here; inner traces never ended are ended with it.
    int on_chain = 0;
    for (cnh_trace *level = cnh_current_trace; level != NULL; level = level->outer)
        if (level == trace) on_chain = 1;
    if (!on_chain) return;
    while (cnh_current_trace != NULL) {
        cnh_trace *inner = cnh_current_trace;
        cnh_current_trace = inner->outer;
        if (inner->outer != NULL) {
            append_all(inner->outer, inner);
            // The outer trace continues each socket's turn where the inner one left it.
            memcpy(inner->outer->turns, inner->turns, sizeof(inner->turns));
            inner->outer->uses = inner->uses;
            inner->outer->connects += inner->connects;
            inner->outer->http_requests += inner->http_requests;
            memcpy(inner->outer->sessions, inner->sessions, sizeof(inner->sessions));
            inner->outer->next_session = inner->next_session;
            inner->outer->dropped += inner->dropped;
        }
        if (inner == trace) break;
    }
}

void cnh_trace_free(cnh_trace *trace) {
    if (trace == NULL) return;
    cnh_trace_end(trace); // never leave this thread pointing at freed memory
    free(trace->events);
    free(trace->bytes);
    free(trace);
}

void cnh_trace_set_quick_ack(cnh_trace *trace, int enabled) {
    if (trace != NULL) trace->quick_ack = enabled != 0;
}

int cnh_trace_is_active(void) { return cnh_current_trace != NULL; }

cnh_trace *cnh_trace_current(void) { return cnh_current_trace; }

void cnh_trace_mark(const char *label) {
    cnh_trace *trace = cnh_current_trace;
    if (trace == NULL) return;
    cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_MARK, -1, 0, 0, 0, label, label ? strlen(label) : 0);
}

uint64_t cnh_trace_start_ns(const cnh_trace *trace) { return trace->start_ns; }
size_t cnh_trace_event_count(const cnh_trace *trace) { return trace->count; }
const cnh_event *cnh_trace_events(const cnh_trace *trace) { return trace->events; }
const uint8_t *cnh_trace_bytes(const cnh_trace *trace) { return trace->bytes; }
size_t cnh_trace_dropped(const cnh_trace *trace) { return trace->dropped; }

static int grow(void **buffer, size_t *capacity, size_t needed, size_t element, size_t initial) {
    if (needed <= *capacity) return 1;
    size_t next = *capacity ? *capacity : initial;
    while (next < needed) next *= 2;
    void *grown = realloc(*buffer, next * element);
    if (grown == NULL) return 0;
    *buffer = grown;
    *capacity = next;
    return 1;
}

void cnh_record(cnh_trace *trace, uint64_t time_ns, cnh_event_kind kind, int fd, int64_t result, int32_t error,
                int32_t aux, const void *data, size_t length) {
    if (length > UINT32_MAX) length = 0;
    if (!grow((void **)&trace->events, &trace->capacity, trace->count + 1, sizeof(cnh_event), 256) ||
        (length && !grow((void **)&trace->bytes, &trace->byte_capacity, trace->byte_count + length, 1, 8192))) {
        trace->dropped++;
        return;
    }
    cnh_event *event = &trace->events[trace->count++];
    event->time_ns = time_ns;
    event->result = result;
    event->kind = kind;
    event->fd = fd;
    event->error = error;
    event->aux = aux;
    event->data_offset = (uint32_t)trace->byte_count;
    event->data_length = (uint32_t)length;
    if (length) {
        memcpy(trace->bytes + trace->byte_count, data, length);
        trace->byte_count += length;
    }
}

static struct cnh_fd_turn *turn_for(cnh_trace *trace, int fd) {
    struct cnh_fd_turn *victim = &trace->turns[0];
    for (int i = 0; i < CNH_FD_SLOTS; i++) {
        struct cnh_fd_turn *turn = &trace->turns[i];
        if (turn->fd == fd) {
            turn->used = ++trace->uses;
            return turn;
        }
        // A free slot beats any taken one; among taken ones, the least recently used.
        if (victim->fd != -1 && (turn->fd == -1 || turn->used < victim->used)) victim = turn;
    }
    victim->fd = fd;
    victim->direction = 0;
    victim->captured = 0;
    victim->used = ++trace->uses;
    return victim;
}

int cnh_session_fd(cnh_trace *trace, void *session) {
    struct cnh_session_slot *free_slot = NULL;
    for (int i = 0; i < CNH_SESSION_SLOTS; i++) {
        if (trace->sessions[i].session == session) return trace->sessions[i].pseudo_fd;
        if (free_slot == NULL && trace->sessions[i].session == NULL) free_slot = &trace->sessions[i];
    }
    // Each session gets a pseudo-fd of its own, never reused within the trace (a session allocated where a
    // closed one was must not inherit its hop); wrapping after a million sessions keeps it an int.
    int pseudo_fd = CNH_SESSION_FD_BASE - (int)(trace->next_session++ % 1000000);
    // More live sessions than slots: the oldest slot's session loses its name (it keeps its events).
    if (free_slot == NULL) free_slot = &trace->sessions[trace->next_session % CNH_SESSION_SLOTS];
    free_slot->session = session;
    free_slot->pseudo_fd = pseudo_fd;
    cnh_forget_fd(trace, pseudo_fd);
    return pseudo_fd;
}

void cnh_forget_session(cnh_trace *trace, void *session) {
    for (int i = 0; i < CNH_SESSION_SLOTS; i++)
        if (trace->sessions[i].session == session) {
            cnh_forget_fd(trace, trace->sessions[i].pseudo_fd);
            trace->sessions[i].session = NULL;
        }
}

void cnh_trace_count_connect(cnh_trace *trace) { trace->connects++; }

void cnh_trace_counts(const cnh_trace *trace, uint32_t *connects, uint32_t *http_requests) {
    if (connects) *connects = trace ? trace->connects : 0;
    if (http_requests) *http_requests = trace ? trace->http_requests : 0;
}

/// Whether `data` starts with an HTTP/1 request line's method and a space.
static int starts_request(const uint8_t *data, size_t length) {
    static const char *methods[] = {"GET ", "POST ", "HEAD ", "PUT ", "OPTIONS ", "DELETE "};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        size_t n = strlen(methods[i]);
        if (length >= n && memcmp(data, methods[i], n) == 0) return 1;
    }
    return 0;
}

void cnh_forget_fd(cnh_trace *trace, int fd) {
    for (int i = 0; i < CNH_FD_SLOTS; i++)
        if (trace->turns[i].fd == fd) trace->turns[i].fd = -1;
}

void cnh_record_transfer(cnh_trace *trace, uint64_t time_ns, cnh_event_kind kind, int fd, int64_t result,
                         int32_t error, const void *data, size_t size) {
    // A turn is a run of transfers in one direction: a request, then its response. Its first bytes carry
    // what the trace needs (request line, TLS record type, status line, Location), the rest is media.
    struct cnh_fd_turn *turn = turn_for(trace, fd);
    if (turn->direction != (int)kind) {
        turn->direction = (int)kind;
        turn->captured = 0;
        if ((kind == CNH_EVENT_SEND || kind == CNH_EVENT_TLS_SEND) && result > 0 && data != NULL &&
            starts_request(data, (size_t)result < size ? (size_t)result : size))
            trace->http_requests++;
    }
    size_t copy = 0;
    if (result > 0 && data != NULL && turn->captured < trace->capture_per_turn) {
        copy = trace->capture_per_turn - turn->captured;
        if ((uint64_t)result < copy) copy = (size_t)result;
        if (size < copy) copy = size; // MSG_TRUNC returns more than the buffer holds
        turn->captured += (uint32_t)copy;
    }
    cnh_record(trace, time_ns, kind, fd, result, error, 0, data, copy);
}
