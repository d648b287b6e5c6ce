// Nothing to define: CNetworkHooks defines what CNetworkHooksTesting.h declares. SwiftPM wants a source file.
#include "CNetworkHooksTesting.h"
