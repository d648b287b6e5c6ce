// CGnuTLS: links gnutls (found through pkg-config) into what depends on it. Nothing is declared here on purpose:
// CNetworkHooks defines gnutls_handshake/gnutls_record_send/gnutls_record_recv itself, with opaque session
// pointers, and having gnutls on the link line is what makes the executable export those definitions so that
// they interpose the ones libavformat calls.
#ifndef CGNUTLS_SHIM_H
#define CGNUTLS_SHIM_H
#endif
