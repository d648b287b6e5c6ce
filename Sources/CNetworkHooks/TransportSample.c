// TCP_INFO samples: what the kernel knows of a traced socket's link (RTT, retransmissions, out-of-order arrivals),
// recorded as CNH_EVENT_TCP_INFO events so that Swift can say how many round trips an open spent and why a
// transfer was slow. Only <linux/tcp.h> has every field of struct tcp_info (glibc's <netinet/tcp.h> lags), and the
// two headers clash: this file includes the kernel's alone.
#include "internal.h"

#if defined(CNH_INTERPOSE)
#include <errno.h>
#include <linux/tcp.h>
#include <string.h>
#include <sys/socket.h>

// IPPROTO_TCP without <netinet/in.h>'s enum (which <linux/tcp.h> does not bring).
#define CNH_SOL_TCP 6

void cnh_record_tcp_sample(cnh_trace *trace, int fd, int reason) {
    if (trace == NULL || fd < 0) return;
    int saved = errno;
    struct tcp_info info;
    memset(&info, 0, sizeof(info));
    socklen_t length = sizeof(info);
    // Through the getsockopt hook, which records only SO_ERROR: a non-TCP fd (a UDP DNS socket, a file) fails
    // with ENOPROTOOPT / ENOTSOCK and records nothing.
    if (getsockopt(fd, CNH_SOL_TCP, TCP_INFO, &info, &length) == 0) {
        cnh_tcp_sample sample = {
            .rtt_us = info.tcpi_rtt,
            .rtt_var_us = info.tcpi_rttvar,
            .min_rtt_us = info.tcpi_min_rtt,
            .receiver_rtt_us = info.tcpi_rcv_rtt,
            .total_retransmits = info.tcpi_total_retrans,
            .out_of_order_packets = info.tcpi_rcv_ooopack,
            .segments_in = info.tcpi_segs_in,
            .data_segments_in = info.tcpi_data_segs_in,
            .receive_mss = info.tcpi_rcv_mss,
            .send_mss = info.tcpi_snd_mss,
            .send_cwnd = info.tcpi_snd_cwnd,
            .state = info.tcpi_state,
            .bytes_received = info.tcpi_bytes_received,
            .bytes_acked = info.tcpi_bytes_acked,
        };
        cnh_record(trace, cnh_monotonic_ns(), CNH_EVENT_TCP_INFO, fd, 0, 0, reason, &sample, sizeof(sample));
    }
    errno = saved;
}

void cnh_trace_sample_sockets(void) {
    cnh_trace *trace = cnh_current_trace;
    if (trace == NULL) return;
    for (int i = 0; i < CNH_FD_SLOTS; i++)
        if (trace->turns[i].fd >= 0) cnh_record_tcp_sample(trace, trace->turns[i].fd, CNH_TCP_SAMPLE_ASKED);
}

#else

void cnh_record_tcp_sample(cnh_trace *trace, int fd, int reason) {
    (void)trace;
    (void)fd;
    (void)reason;
}

void cnh_trace_sample_sockets(void) {}

#endif
