// res_nquery for the raw DNS answer, so Swift can read the records' TTLs (getaddrinfo hides them).
#include "internal.h"

#if defined(__linux__)
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

int cnh_res_query(const char *host, int type, const struct sockaddr_in *server, int timeout_seconds,
                  int attempts, uint8_t *answer, int answer_capacity, int *h_error) {
    struct __res_state state;
    memset(&state, 0, sizeof(state));
    if (res_ninit(&state) != 0) {
        if (h_error) *h_error = NO_RECOVERY;
        return -1;
    }
    if (server != NULL) {
        state.nscount = 1;
        state.nsaddr_list[0] = *server;
    }
    if (timeout_seconds > 0) state.retrans = timeout_seconds;
    if (attempts > 0) state.retry = attempts;
    int length = res_nquery(&state, host, ns_c_in, type, answer, answer_capacity);
    if (length < 0 && h_error) *h_error = state.res_h_errno;
    res_nclose(&state);
    return length;
}
#endif
