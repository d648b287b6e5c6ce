// addrinfo lists handed to FFmpeg from the DNS cache. Each list is one allocation; a registry of live lists
// lets the freeaddrinfo hook free ours here and pass libc's lists to libc.
#include "internal.h"

#if defined(__linux__)
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct addrinfo **registry;
static size_t registry_count;
static size_t registry_capacity;
static _Atomic long live_lists;

static int register_list(struct addrinfo *list) {
    pthread_mutex_lock(&registry_lock);
    if (registry_count == registry_capacity) {
        size_t capacity = registry_capacity ? registry_capacity * 2 : 16;
        struct addrinfo **grown = realloc(registry, capacity * sizeof(*registry));
        if (grown == NULL) {
            pthread_mutex_unlock(&registry_lock);
            return 0;
        }
        registry = grown;
        registry_capacity = capacity;
    }
    registry[registry_count++] = list;
    atomic_fetch_add_explicit(&live_lists, 1, memory_order_relaxed);
    pthread_mutex_unlock(&registry_lock);
    return 1;
}

struct addrinfo *cnh_addrinfo_make(const struct sockaddr_storage *addresses, int count,
                                   const int *socktypes, const int *protocols, int kinds,
                                   const char *canonical_name) {
    if (addresses == NULL || count <= 0 || socktypes == NULL || protocols == NULL || kinds <= 0) return NULL;
    size_t nodes = (size_t)count * (size_t)kinds;
    size_t name_length = canonical_name ? strlen(canonical_name) + 1 : 0;
    // [addrinfo × nodes][sockaddr_storage × nodes][canonical name]
    uint8_t *block = calloc(1, nodes * (sizeof(struct addrinfo) + sizeof(struct sockaddr_storage)) + name_length);
    if (block == NULL) return NULL;
    struct addrinfo *list = (struct addrinfo *)block;
    struct sockaddr_storage *storage = (struct sockaddr_storage *)(block + nodes * sizeof(struct addrinfo));
    char *name = (char *)(storage + nodes);
    if (name_length) memcpy(name, canonical_name, name_length);

    size_t node = 0;
    for (int a = 0; a < count; a++) {
        int family = addresses[a].ss_family;
        socklen_t length = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        for (int k = 0; k < kinds; k++, node++) {
            struct addrinfo *info = &list[node];
            memcpy(&storage[node], &addresses[a], length); // sockaddr_in6 whole: scope id and flow info too
            info->ai_family = family;
            info->ai_socktype = socktypes[k];
            info->ai_protocol = protocols[k];
            info->ai_addrlen = length;
            info->ai_addr = (struct sockaddr *)&storage[node];
            info->ai_canonname = (node == 0 && name_length) ? name : NULL;
            info->ai_next = node + 1 < nodes ? &list[node + 1] : NULL;
        }
    }
    if (!register_list(list)) {
        free(block);
        return NULL;
    }
    return list;
}

int cnh_addrinfo_release_if_ours(struct addrinfo *list) {
    if (list == NULL) return 1;
    if (atomic_load_explicit(&live_lists, memory_order_relaxed) == 0) return 0;
    int found = 0;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_count; i++) {
        if (registry[i] == list) {
            registry[i] = registry[--registry_count];
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (!found) return 0;
    atomic_fetch_sub_explicit(&live_lists, 1, memory_order_relaxed);
    free(list);
    return 1;
}

long cnh_addrinfo_live_count(void) {
    return atomic_load_explicit(&live_lists, memory_order_relaxed);
}
#endif
