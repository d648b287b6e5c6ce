import FirstFrameFFmpeg
import Foundation

/// One line of an origin's sent log: a media tag one connection handed to the kernel, as the packet FFmpeg's FLV
/// demuxer reads from it (see ``FLVTag/packetDigest(timestamp:)``).
///
/// Served as JSON Lines at `GET /sent/NAME`, one object per tag, flat:
/// `{"connection":3,"complete":true,"kind":"video","time":1040,"key":true,"size":4312,"hash":"9ae16a3b2f90404f"}`.
/// `connection` is the viewer id (as in `/stats`), `time` the channel clock in milliseconds (shared by every
/// connection of the channel), `hash` the ``PayloadHash`` of the packet's payload in 16 hex digits.
/// `complete` is false for a tag the client did not get whole and unaltered: cut by a byte limit (`close_after`,
/// `stall_after`) or touched by `corrupt_at`.
package struct SentTag: Sendable, Equatable, Codable {
    /// The viewer id of the connection that sent it.
    package var connection: Int
    /// Whether the whole tag went out unaltered.
    package var complete: Bool
    package var packet: PacketDigest

    package init(connection: Int, complete: Bool, packet: PacketDigest) {
        self.connection = connection
        self.complete = complete
        self.packet = packet
    }

    private enum CodingKeys: String, CodingKey { case connection, complete }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        connection = try container.decode(Int.self, forKey: .connection)
        complete = try container.decode(Bool.self, forKey: .complete)
        packet = try PacketDigest(from: decoder)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(connection, forKey: .connection)
        try container.encode(complete, forKey: .complete)
        try packet.encode(to: encoder)
    }

    /// The line as the origin serves it (without the newline): the same JSON as the `Codable` encoding, written
    /// by hand because the origin formats tens of thousands of them on an event loop.
    package var jsonLine: String {
        "{\"connection\":\(connection),\"complete\":\(complete),\"kind\":\"\(packet.kind.rawValue)\",\"time\":\(packet.milliseconds),"
            + "\"key\":\(packet.isKeyframe),\"size\":\(packet.size),\"hash\":\"\(packet.hashText)\"}"
    }

    /// The tags of a sent log as served (JSON Lines; blank lines ignored).
    package static func decode(jsonLines data: Data) throws -> [SentTag] {
        // One decode of a JSON array: far faster than a decoder per line.
        var array = Data("[".utf8)
        var first = true
        for line in data.split(separator: UInt8(ascii: "\n"))
        where line.contains(where: { $0 != UInt8(ascii: " ") && $0 != 13 }) {
            if !first { array.append(UInt8(ascii: ",")) }
            array.append(contentsOf: line)
            first = false
        }
        array.append(UInt8(ascii: "]"))
        return try JSONDecoder().decode([SentTag].self, from: array)
    }

    /// What a channel sent, once: the union of the complete tags of all `tags`' connections, one packet per kind and
    /// channel time (every connection of a channel shares its clock, so a GOP re-sent to a new connection is the
    /// same packet), in channel-time order. The ground truth a recording of the channel is checked against.
    package static func truth(_ tags: [SentTag]) -> [PacketDigest] {
        var seen: Set<Key> = []
        var packets: [PacketDigest] = []
        for tag in tags
        where tag.complete && seen.insert(Key(kind: tag.packet.kind, milliseconds: tag.packet.milliseconds)).inserted {
            packets.append(tag.packet)
        }
        // Stable: within one time, the order the connections sent them in.
        return packets.enumerated().sorted {
            ($0.element.milliseconds, $0.offset) < ($1.element.milliseconds, $1.offset)
        }.map(\.element)
    }

    private struct Key: Hashable {
        let kind: StreamInfo.Kind
        let milliseconds: Int64
    }
}
