/// A request to the origin, parsed from (and rendered to) its path and query string.
///
/// Streams are any path ending in `.flv`; the last path component without `.flv` names the channel
/// (`/live/room7.flv`, `/gop/room7.flv`, `/room7.flv` and `/app/room7.flv` all play `room7`; see ``ChannelName``
/// for the characters allowed). The join mode comes from a leading `/live/`, `/gop/` or `/burst/` path
/// component, or from `mode=`; otherwise the origin's default applies. `/sent/NAME` (or `/sent/NAME.flv`) is the sent
/// log of the channel `NAME` (``OriginConfiguration/logsSentTags``).
package struct OriginRequest: Sendable, Equatable {
    package enum Route: Sendable, Equatable {
        case stream
        case index
        case stats
        /// The sent log of ``OriginRequest/channel``.
        case sent
        case notFound
    }

    package var path: String
    package var route: Route
    /// The channel a stream request names; `nil` for other routes.
    package var channel: ChannelName?
    package var mode: JoinMode?
    package var behaviour: Behaviour
    /// The query as sent, decoded, in order: a `redirects=N` hop repeats it with only `redirects` changed.
    private var queryItems: [(name: String, value: String)] = []

    package enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case invalidValue(name: String, value: String)
        case unknownParameter(String)
        /// `name` only makes sense together with `other`.
        case requires(name: String, other: String)

        package var description: String {
            switch self {
            case .invalidValue(let name, let value): "invalid value '\(value)' for '\(name)'"
            case .unknownParameter(let name): "unknown parameter '\(name)'"
            case .requires(let name, let other): "'\(name)' needs '\(other)'"
            }
        }
    }

    /// Parses a request target such as `/gop/stream.flv?delay=200`, starting from `defaults`.
    package init(uri: String, defaults: Behaviour = Behaviour()) throws(ParseError) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = parts.first.map(String.init) ?? "/"
        behaviour = defaults
        let components = path.split(separator: "/")
        if components.count == 2, components[0] == "sent" {
            let name = components[1].hasSuffix(".flv") ? components[1].dropLast(".flv".count) : components[1]
            channel = ChannelName(String(name))
            route = channel == nil ? .notFound : .sent
        } else if path.hasSuffix(".flv") {
            // A name the origin cannot serve is a path it does not have.
            channel = components.last.flatMap { ChannelName(String($0.dropLast(".flv".count))) }
            route = channel == nil ? .notFound : .stream
            if components.count >= 2, let pathMode = JoinMode(rawValue: String(components[0])) { mode = pathMode }
        } else if path == "/" || path.isEmpty {
            route = .index
        } else if path == "/stats" {
            route = .stats
        } else {
            route = .notFound
        }
        if parts.count == 2 {
            for item in parts[1].split(separator: "&") where !item.isEmpty {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = Self.percentDecoded(pair[0])
                let value = pair.count == 2 ? Self.percentDecoded(pair[1]) : ""
                try apply(name: name, value: value)
                queryItems.append((name, value))
            }
        }
        // Ending the channel happens when this response ends; without an end there is no moment to do it.
        if behaviour.endsChannel && behaviour.endAfterMilliseconds == nil {
            throw .requires(name: "end_channel", other: "end_after_ms")
        }
    }

    private mutating func apply(name: String, value: String) throws(ParseError) {
        func integer(_ range: ClosedRange<Int>) throws(ParseError) -> Int {
            guard let number = Int(value), range.contains(number) else { throw .invalidValue(name: name, value: value) }
            return number
        }
        func flag() throws(ParseError) -> Bool {
            guard value == "0" || value == "1" else { throw .invalidValue(name: name, value: value) }
            return value == "1"
        }
        switch name {
        case "mode":
            guard let parsed = JoinMode(rawValue: value) else { throw .invalidValue(name: name, value: value) }
            mode = parsed
        case "delay": behaviour.responseDelayMilliseconds = try integer(0...600_000)
        case "status": behaviour.status = try integer(100...599)
        case "redirect":
            // It becomes a Location header: no control characters (CR/LF would split the response).
            guard !value.isEmpty, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw .invalidValue(name: name, value: value)
            }
            behaviour.redirectTarget = value
        case "redirects": behaviour.redirectHops = try integer(0...100)
        case "redirect_status":
            let status = try integer(300...399)
            guard [301, 302, 303, 307, 308].contains(status) else { throw .invalidValue(name: name, value: value) }
            behaviour.redirectStatus = status
        case "stall_after": behaviour.stallAfterBytes = try integer(0...Int(Int32.max))
        case "close_after": behaviour.closeAfterBytes = try integer(0...Int(Int32.max))
        case "corrupt_at": behaviour.corruptAtByte = try integer(0...Int(Int32.max))
        case "corrupt_len": behaviour.corruptLength = try integer(1...Int(Int32.max))
        case "waitkey": behaviour.waitForKeyframe = try flag()
        case "chunked": behaviour.chunked = try flag()
        case "close_after_ms": behaviour.closeAfterMilliseconds = try integer(0...86_400_000)
        case "end_after_ms": behaviour.endAfterMilliseconds = try integer(0...86_400_000)
        case "end_channel": behaviour.endsChannel = try flag()
        case "ended": behaviour.channelEnded = try flag()
        case "speed":
            // A client at 1× (or slower) would never reach the live edge.
            guard let speed = Double(value), speed > 1, speed <= 1000 else {
                throw .invalidValue(name: name, value: value)
            }
            behaviour.burstSpeed = speed
        default:
            throw .unknownParameter(name)
        }
    }

    /// Every query parameter the origin takes, in one line: for its index page and `firstframe serve`.
    package static let parameterSummary =
        "mode=live|gop|burst speed=N waitkey=0|1 delay=MS status=CODE redirect=URL "
        + "redirects=N redirect_status=CODE stall_after=BYTES close_after=BYTES close_after_ms=MS corrupt_at=BYTES "
        + "corrupt_len=BYTES chunked=0|1 end_after_ms=MS end_channel=0|1 ended=0|1"

    /// The query string that asks for `behaviour` (only what differs from the defaults), without `?`.
    package static func query(mode: JoinMode? = nil, behaviour: Behaviour) -> String {
        var items: [(String, String)] = []
        if let mode { items.append(("mode", mode.rawValue)) }
        let plain = Behaviour()
        if behaviour.responseDelayMilliseconds != plain.responseDelayMilliseconds {
            items.append(("delay", String(behaviour.responseDelayMilliseconds)))
        }
        if let status = behaviour.status { items.append(("status", String(status))) }
        if let target = behaviour.redirectTarget { items.append(("redirect", target)) }
        if behaviour.redirectHops != 0 { items.append(("redirects", String(behaviour.redirectHops))) }
        if behaviour.redirectStatus != plain.redirectStatus {
            items.append(("redirect_status", String(behaviour.redirectStatus)))
        }
        if let bytes = behaviour.stallAfterBytes { items.append(("stall_after", String(bytes))) }
        if let bytes = behaviour.closeAfterBytes { items.append(("close_after", String(bytes))) }
        if let offset = behaviour.corruptAtByte { items.append(("corrupt_at", String(offset))) }
        if behaviour.corruptLength != plain.corruptLength {
            items.append(("corrupt_len", String(behaviour.corruptLength)))
        }
        if !behaviour.waitForKeyframe { items.append(("waitkey", "0")) }
        if behaviour.chunked { items.append(("chunked", "1")) }
        if let speed = behaviour.burstSpeed { items.append(("speed", String(speed))) }
        if let milliseconds = behaviour.closeAfterMilliseconds {
            items.append(("close_after_ms", String(milliseconds)))
        }
        if let milliseconds = behaviour.endAfterMilliseconds { items.append(("end_after_ms", String(milliseconds))) }
        if behaviour.endsChannel { items.append(("end_channel", "1")) }
        if behaviour.channelEnded { items.append(("ended", "1")) }
        return items.map { "\($0.0)=\(percentEncoded($0.1))" }.joined(separator: "&")
    }

    /// The same request with one redirect hop fewer: the target of a `redirects=N` response. Everything else
    /// in the query is repeated as sent, so server-wide defaults and per-request overrides apply alike on every hop.
    package var redirectTargetForNextHop: String {
        var items = queryItems.filter { $0.name != "redirects" }
        items.append(("redirects", String(behaviour.redirectHops - 1)))
        return path + "?" + items.map { "\($0.name)=\(Self.percentEncoded($0.value))" }.joined(separator: "&")
    }

    package static func == (lhs: OriginRequest, rhs: OriginRequest) -> Bool {
        lhs.path == rhs.path && lhs.route == rhs.route && lhs.channel == rhs.channel && lhs.mode == rhs.mode
            && lhs.behaviour == rhs.behaviour
    }

    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/:".utf8)

    static func percentEncoded(_ value: String) -> String {
        var result = ""
        for byte in value.utf8 {
            if unreserved.contains(byte) {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }

    static func percentDecoded<S: StringProtocol>(_ value: S) -> String {
        let input = Array(value.utf8)
        var bytes: [UInt8] = []
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "%"), index + 2 < input.count,
                let decoded = UInt8(String(decoding: input[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)
            {
                bytes.append(decoded)
                index += 3
                continue
            }
            // A malformed escape is kept as it is.
            bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
