import CNetworkHooks
import FirstFrameCore

/// One call the network hooks saw on a tracing thread, as recorded: the raw material of ``NetworkTrace``.
package struct NetworkEvent: Sendable, Codable, Hashable {
    /// Which hooked call (or caller's mark) the event records, one per `CNH_EVENT_*` kind.
    package enum Kind: String, Sendable, Codable {
        case lookupStart, lookupEnd, connectStart, connectReturn, socketError, send, receive, shutdown, close
        case tlsHandshakeStart, tlsHandshakeEnd, mark
        /// gnutls_record_send / gnutls_record_recv: the plaintext of a TLS session (fd: the session's pseudo-fd).
        case tlsSend, tlsReceive
        /// The socket's `TCP_INFO` (``TransportSample``); aux: when it was taken.
        case tcpInfo
        /// A second connect to the address of an attempt still in progress (`CNH_EVENT_CONNECT_HEDGE_START`),
        /// and how the race ended (`CNH_EVENT_CONNECT_HEDGE_END`, aux: a `cnh_hedge_outcome`); fd: the caller's.
        case connectHedgeStart, connectHedgeEnd

        init?(_ raw: Int32) {
            switch UInt32(raw) {
            case CNH_EVENT_LOOKUP_START.rawValue: self = .lookupStart
            case CNH_EVENT_LOOKUP_END.rawValue: self = .lookupEnd
            case CNH_EVENT_CONNECT_START.rawValue: self = .connectStart
            case CNH_EVENT_CONNECT_RETURN.rawValue: self = .connectReturn
            case CNH_EVENT_SOCKET_ERROR.rawValue: self = .socketError
            case CNH_EVENT_SEND.rawValue: self = .send
            case CNH_EVENT_RECV.rawValue: self = .receive
            case CNH_EVENT_SHUTDOWN.rawValue: self = .shutdown
            case CNH_EVENT_CLOSE.rawValue: self = .close
            case CNH_EVENT_TLS_HANDSHAKE_START.rawValue: self = .tlsHandshakeStart
            case CNH_EVENT_TLS_HANDSHAKE_END.rawValue: self = .tlsHandshakeEnd
            case CNH_EVENT_MARK.rawValue: self = .mark
            case CNH_EVENT_TLS_SEND.rawValue: self = .tlsSend
            case CNH_EVENT_TLS_RECV.rawValue: self = .tlsReceive
            case CNH_EVENT_TCP_INFO.rawValue: self = .tcpInfo
            case CNH_EVENT_CONNECT_HEDGE_START.rawValue: self = .connectHedgeStart
            case CNH_EVENT_CONNECT_HEDGE_END.rawValue: self = .connectHedgeEnd
            default: return nil
            }
        }
    }

    package var kind: Kind
    /// `CLOCK_MONOTONIC` nanoseconds (`MonotonicClock`). Sends are stamped before the call, receives on return.
    package var time: UInt64
    /// The socket; for gnutls events (handshake, plaintext) the session's pseudo-fd, `CNH_SESSION_FD_BASE − n`
    /// (−100, −101, …: one per session in the trace, mapped to the socket its handshake followed); -1 for lookups
    /// and marks.
    package var fd: Int32
    /// The call's return value (bytes for send/receive, an `EAI_*` code for a lookup's end).
    package var result: Int64
    /// `errno` of a failed call; the pending error for `socketError`; the hints flags of a lookup's start and
    /// the failure detail of its end.
    package var error: Int32
    /// The lookup's requested family (start) or answer source (end); `how` for shutdown.
    package var aux: Int32
    /// Host and service (lookup start), packed answers (lookup end), the sockaddr (connect start), the first
    /// bytes of a turn (send/receive: a request or response head, a TLS record header), a label (mark).
    package var data: [UInt8]

    package init(
        kind: Kind,
        time: UInt64,
        fd: Int32 = -1,
        result: Int64 = 0,
        error: Int32 = 0,
        aux: Int32 = 0,
        data: [UInt8] = []
    ) {
        self.kind = kind
        self.time = time
        self.fd = fd
        self.result = result
        self.error = error
        self.aux = aux
        self.data = data
    }
}

extension NetworkEvent {
    /// Host and service of a `lookupStart`.
    var lookupNames: (host: String, service: String) {
        let parts = data.split(separator: 0, omittingEmptySubsequences: false)
        let host = parts.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let service = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : ""
        return (host, service)
    }

    /// The sockaddr of a `connectStart`, or the answers of a `lookupEnd`.
    var socketAddresses: [SocketAddress] {
        data.withUnsafeBytes { raw in
            kind == .connectStart || kind == .connectHedgeStart
                ? SocketAddress(sockaddrBytes: raw).map { [$0] } ?? [] : Self.packedAddresses(raw)
        }
    }

    /// A lookup end's answers as the hooks pack them: each a 32-bit length, then that many bytes of sockaddr.
    package static func packedAddresses(_ raw: UnsafeRawBufferPointer) -> [SocketAddress] {
        var result: [SocketAddress] = []
        var offset = 0
        while offset + 4 <= raw.count {
            let length = Int(raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            offset += 4
            guard offset + length <= raw.count else { break }
            if let address = SocketAddress(
                sockaddrBytes: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + length])
            ) {
                result.append(address)
            }
            offset += length
        }
        return result
    }
}
