/// One complete RTMP message as the chunk-stream reader put it together from its chunks, with the times of the
/// trace events that carried its first byte (the first chunk's basic header) and its last byte.
package struct RTMPMessage: Sendable, Hashable {
    /// RTMP message type ids (RTMP 1.0 §5.4, §7.1).
    package enum TypeID {
        package static let setChunkSize: UInt8 = 1
        package static let abort: UInt8 = 2
        package static let acknowledgement: UInt8 = 3
        package static let userControl: UInt8 = 4
        package static let windowAcknowledgementSize: UInt8 = 5
        package static let setPeerBandwidth: UInt8 = 6
        package static let audio: UInt8 = 8
        package static let video: UInt8 = 9
        package static let dataAMF3: UInt8 = 15
        package static let sharedObjectAMF3: UInt8 = 16
        package static let commandAMF3: UInt8 = 17
        package static let dataAMF0: UInt8 = 18
        package static let sharedObjectAMF0: UInt8 = 19
        package static let commandAMF0: UInt8 = 20
        package static let aggregate: UInt8 = 22
    }

    /// What the payload says, as far as the analysis needs it.
    package enum Content: Sendable, Hashable {
        case setChunkSize(Int)
        case abort(chunkStreamID: UInt32)
        case acknowledgement(sequenceNumber: UInt32)
        case userControl(event: UInt16)
        case windowAcknowledgementSize(UInt32)
        case setPeerBandwidth(UInt32)
        /// AMF0 (or AMF3-wrapped AMF0) command: name, transaction id and, for `onStatus`, the info object's
        /// `code` (`NetStream.Play.Start`).
        case command(name: String, transactionID: Double?, statusCode: String?)
        /// A data message (`onMetaData`, `|RtmpSampleAccess`): its name, when it starts with a string.
        case data(name: String?)
        /// `isSequenceHeader`: AAC's AudioSpecificConfig (AACPacketType 0), not a frame.
        case audio(isSequenceHeader: Bool)
        case video(Video)
        /// FLV tags packed in one message: which kinds it holds, and whether a video keyframe is among them
        /// (read from the part of the payload the reader kept).
        case aggregate(hasAudio: Bool, hasVideo: Bool, keyframe: Bool)
        /// A type the analysis does not read (shared objects, unknown types), or a payload too short to read.
        case other
    }

    /// The first bytes of a video message (FLV VIDEODATA).
    package struct Video: Sendable, Hashable {
        /// FLV frame type: 1 keyframe, 2 inter frame, 5 video info/command.
        package var frameType: UInt8
        /// FLV codec id (7 AVC); for an enhanced-RTMP header, nil (the codec is a FourCC).
        package var codecID: UInt8?
        /// AVCPacketType for AVC (and the HEVC-in-FLV extension, codec 12): 0 sequence header, 1 NALU, 2 end of
        /// sequence. For enhanced RTMP, its PacketType (0 sequence start, 1 and 3 coded frames).
        package var packetType: UInt8?
        /// The enhanced-RTMP header (`IsExHeader`, the top bit of the first byte) was set.
        package var isExtendedHeader: Bool

        /// A frame decoding can start from: a keyframe that carries a picture, not a decoder configuration.
        package var isKeyframe: Bool {
            guard frameType == 1 else { return false }
            if isExtendedHeader { return packetType == 1 || packetType == 3 }
            // AVC and the widespread HEVC extension share AVCPacketType; a sequence header is configuration.
            if codecID == 7 || codecID == 12 { return packetType == 1 }
            return true
        }

        package var isSequenceHeader: Bool { packetType == 0 && (isExtendedHeader || codecID == 7 || codecID == 12) }

        /// Reads the first bytes of a video payload; nil when there are none.
        package init?(_ payload: ArraySlice<UInt8>) {
            guard let first = payload.first else { return nil }
            let second = payload.dropFirst().first
            isExtendedHeader = first & 0x80 != 0
            if isExtendedHeader {
                frameType = first >> 4 & 0x07
                codecID = nil
                packetType = first & 0x0F
            } else {
                frameType = first >> 4
                codecID = first & 0x0F
                packetType = codecID == 7 || codecID == 12 ? second : nil
            }
        }
    }

    /// The order of the message in its direction (0 = the first message after the handshake), counted when its
    /// first chunk arrived: interleaved messages complete out of this order.
    package var serial: Int
    package var chunkStreamID: UInt32
    package var typeID: UInt8
    package var streamID: UInt32
    /// Payload length from the message header.
    package var length: Int
    /// The message timestamp (extended timestamps and deltas applied, modulo 2^32).
    package var timestamp: UInt32
    /// `MonotonicClock` ns of the event that carried the message's first byte and of the one that carried its last.
    package var firstByteTime: UInt64
    package var lastByteTime: UInt64
    package var content: Content

    /// Audio, video, data or aggregate: the stream itself rather than the conversation about it.
    package var isMedia: Bool {
        switch content {
        case .audio, .video, .aggregate: true
        // The server's |RtmpSampleAccess grants the player access to the samples; it comes with the play
        // status, before any media, so it does not say the stream has started.
        case .data(let name): name != "|RtmpSampleAccess"
        default: false
        }
    }

    /// Whether this is a video keyframe carrying a picture (or an aggregate holding one).
    package var isKeyframe: Bool {
        switch content {
        case .video(let video): video.isKeyframe
        case .aggregate(_, _, let keyframe): keyframe
        default: false
        }
    }

    /// A short name for logs and stall labels: the command's name, the control message's, or the media kind.
    package var summary: String {
        switch content {
        case .setChunkSize(let size): "Set Chunk Size \(size)"
        case .abort: "Abort"
        case .acknowledgement: "Acknowledgement"
        case .userControl(let event): "User Control \(Self.userControlName(event))"
        case .windowAcknowledgementSize: "Window Acknowledgement Size"
        case .setPeerBandwidth: "Set Peer Bandwidth"
        case .command(let name, _, let code): code.map { "\(name) \($0)" } ?? name
        case .data(let name): name.map { "data \($0)" } ?? "data"
        case .audio(let header): header ? "audio sequence header" : "audio"
        case .video(let video):
            video.isSequenceHeader ? "video sequence header" : video.isKeyframe ? "video keyframe" : "video"
        case .aggregate: "aggregate"
        case .other: Self.typeName(typeID)
        }
    }

    /// The name of a message type, for a message whose payload has not been read (yet).
    package static func typeName(_ typeID: UInt8) -> String {
        switch typeID {
        case TypeID.setChunkSize: "Set Chunk Size"
        case TypeID.abort: "Abort"
        case TypeID.acknowledgement: "Acknowledgement"
        case TypeID.userControl: "User Control"
        case TypeID.windowAcknowledgementSize: "Window Acknowledgement Size"
        case TypeID.setPeerBandwidth: "Set Peer Bandwidth"
        case TypeID.audio: "audio"
        case TypeID.video: "video"
        case TypeID.dataAMF0, TypeID.dataAMF3: "data"
        case TypeID.sharedObjectAMF0, TypeID.sharedObjectAMF3: "shared object"
        case TypeID.commandAMF0, TypeID.commandAMF3: "command"
        case TypeID.aggregate: "aggregate"
        default: "message type \(typeID)"
        }
    }

    private static func userControlName(_ event: UInt16) -> String {
        switch event {
        case 0: "Stream Begin"
        case 1: "Stream EOF"
        case 2: "Stream Dry"
        case 3: "Set Buffer Length"
        case 4: "Stream Is Recorded"
        case 6: "Ping Request"
        case 7: "Ping Response"
        default: "event \(event)"
        }
    }

    /// How many payload bytes the reader keeps for a message of `typeID`: all of a command or data message (up
    /// to a bound), the few first bytes of media (its FLV header is all the analysis reads).
    package static func keptPayloadLimit(for typeID: UInt8) -> Int {
        switch typeID {
        case TypeID.audio, TypeID.video: 16
        default: 64 * 1024
        }
    }

    /// Reads `payload` (the kept prefix of a message of `typeID`, `length` bytes long in full).
    package static func content(typeID: UInt8, payload: ArraySlice<UInt8>) -> Content {
        func u32(_ bytes: ArraySlice<UInt8>) -> UInt32? {
            guard bytes.count >= 4 else { return nil }
            return bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
        }
        switch typeID {
        case TypeID.setChunkSize:
            // The top bit must be zero; a peer that sets it is broken, and reading it as a size would be worse.
            return u32(payload).map { .setChunkSize(Int($0 & 0x7FFF_FFFF)) } ?? .other
        case TypeID.abort: return u32(payload).map { .abort(chunkStreamID: $0) } ?? .other
        case TypeID.acknowledgement: return u32(payload).map { .acknowledgement(sequenceNumber: $0) } ?? .other
        case TypeID.windowAcknowledgementSize: return u32(payload).map { .windowAcknowledgementSize($0) } ?? .other
        case TypeID.setPeerBandwidth: return u32(payload).map { .setPeerBandwidth($0) } ?? .other
        case TypeID.userControl:
            guard payload.count >= 2 else { return .other }
            return .userControl(
                event: UInt16(payload[payload.startIndex]) << 8 | UInt16(payload[payload.startIndex + 1])
            )
        case TypeID.commandAMF0, TypeID.commandAMF3:
            // AMF3 commands start with a format byte of 0 followed by AMF0 values (what servers send).
            let body = typeID == TypeID.commandAMF3 && payload.first == 0 ? payload.dropFirst() : payload
            let values = AMF0Value.decodeAll(body)
            guard let name = values.first?.string else { return .other }
            // onStatus: name, transaction id, null, info object { level, code, description }.
            let info = values.dropFirst(2).first { if case .object = $0 { true } else { false } }
            return .command(
                name: name,
                transactionID: values.dropFirst().first?.number,
                statusCode: info?["code"]?.string
            )
        case TypeID.dataAMF0, TypeID.dataAMF3:
            let body = typeID == TypeID.dataAMF3 && payload.first == 0 ? payload.dropFirst() : payload
            return .data(name: AMF0Value.decodeAll(body.prefix(4096)).first?.string)
        case TypeID.audio:
            guard let first = payload.first else { return .other }
            // AAC (sound format 10) sends its configuration as AACPacketType 0.
            return .audio(isSequenceHeader: first >> 4 == 10 && payload.dropFirst().first == 0)
        case TypeID.video:
            return Video(payload).map(Content.video) ?? .other
        case TypeID.aggregate:
            return aggregate(payload)
        default:
            return .other
        }
    }

    /// Walks the FLV tags inside an aggregate message's kept payload (11-byte tag header, data, 4-byte back
    /// pointer), stopping where the kept bytes end.
    private static func aggregate(_ payload: ArraySlice<UInt8>) -> Content {
        var hasAudio = false
        var hasVideo = false
        var keyframe = false
        var offset = payload.startIndex
        while payload.endIndex - offset >= 11 {
            let type = payload[offset] & 0x1F
            let size = Int(payload[offset + 1]) << 16 | Int(payload[offset + 2]) << 8 | Int(payload[offset + 3])
            let data = offset + 11
            if type == TypeID.audio { hasAudio = true }
            if type == TypeID.video {
                hasVideo = true
                if let video = Video(payload[data..<min(data + size, payload.endIndex)]), video.isKeyframe {
                    keyframe = true
                }
            }
            guard payload.endIndex - data >= size + 4 else { break }
            offset = data + size + 4
        }
        return .aggregate(hasAudio: hasAudio, hasVideo: hasVideo, keyframe: keyframe)
    }
}
