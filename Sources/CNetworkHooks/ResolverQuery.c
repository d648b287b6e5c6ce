// res_nquery for the raw DNS answer, so Swift can read the records' TTLs (getaddrinfo hides them).
#include <stdlib.h>
#include "internal.h"

#if defined(__linux__)
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

int cnh_res_query(const char *host, int type, const struct sockaddr *server, int timeout_seconds,
                  int attempts, uint8_t *answer, int answer_capacity, int *h_error) {
    struct __res_state state;
    memset(&state, 0, sizeof(state));
    if (res_ninit(&state) != 0) {
        if (h_error) *h_error = NO_RECOVERY;
        return -1;
    }
    if (server != NULL) {
        // glibc keeps IPv6 servers apart (_u._ext.nsaddrs, preferred where set): drop every configured server,
        // whichever family, so the override is the only one asked.
        for (int i = 0; i < MAXNS; i++) {
            free(state._u._ext.nsaddrs[i]);
            state._u._ext.nsaddrs[i] = NULL;
            memset(&state.nsaddr_list[i], 0, sizeof(state.nsaddr_list[i]));
        }
        if (server->sa_family == AF_INET6) {
            struct sockaddr_in6 *copy = malloc(sizeof(*copy));
            if (copy == NULL) {
                res_nclose(&state);
                if (h_error) *h_error = NO_RECOVERY;
                return -1;
            }
            memcpy(copy, server, sizeof(*copy));
            state._u._ext.nsaddrs[0] = copy; // freed by res_nclose
        } else {
            memcpy(&state.nsaddr_list[0], server, sizeof(struct sockaddr_in));
        }
        state.nscount = 1;
    }
    if (timeout_seconds > 0) state.retrans = timeout_seconds;
    if (attempts > 0) state.retry = attempts;
    int length = res_nquery(&state, host, ns_c_in, type, answer, answer_capacity);
    if (length < 0 && h_error) *h_error = state.res_h_errno;
    res_nclose(&state);
    return length;
}
#endif
