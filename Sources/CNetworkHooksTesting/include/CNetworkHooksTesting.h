// CNetworkHooksTesting: symbols of CNetworkHooks that only its tests and benchmarks call. They are defined in
// CNetworkHooks; this header keeps them out of the header every user of the hooks sees.
#ifndef CNETWORKHOOKSTESTING_H
#define CNETWORKHOOKSTESTING_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Lists from cnh_addrinfo_make not yet freed: a leak counter for tests.
long cnh_addrinfo_live_count(void);

#if defined(__linux__)
/// The real recv, bypassing the hook: what `firstframe bench hooks` measures the hook against.
ssize_t cnh_real_recv(int fd, void *buffer, size_t length, int flags);
#endif

#ifdef __cplusplus
}
#endif

#endif
