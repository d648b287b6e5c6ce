// RTLD_NEXT needs _GNU_SOURCE, which also turns sys/socket.h's sockaddr parameters into transparent unions;
// keeping it to this file leaves the hooks' signatures plain.
#define _GNU_SOURCE
#include <dlfcn.h>

#include "internal.h"

void *cnh_next_symbol(const char *name) {
    return dlsym(RTLD_NEXT, name);
}
