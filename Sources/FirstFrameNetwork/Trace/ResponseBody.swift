import FirstFrameCore

/// A response's body as the trace captured it: the reads after the head, chunked framing taken off.
struct ResponseBody {
    var bytes: [UInt8] = []
    var contentType: String?
    /// Every byte of the body was captured (as far as `Content-Length` or the last chunk says; a body that
    /// ends at the connection's close counts as complete when every read was captured).
    var complete = false

    /// - Parameter wanted: stop once this many body bytes are read (nil: the whole body).
    init?(reads: some Sequence<NetworkEvent>, wanted: Int?) {
        var head: [UInt8] = []
        var headLength: Int?
        var raw: [UInt8] = []
        var cut = false
        for read in reads where read.result > 0 {
            let captured = read.data.count >= Int(read.result)
            if headLength == nil {
                let scanned = head.count - 3
                head += read.data
                if let length = HTTPHead.headLength(head, searchingFrom: scanned) {
                    headLength = length
                    raw = Array(head[length...])
                    head.removeSubrange(length...)
                }
                if !captured {
                    cut = true
                    break
                }
            } else {
                raw += read.data
                if !captured {
                    cut = true
                    break
                }
            }
            if let wanted, raw.count >= wanted * 2 + 64 {
                cut = true
                break
            }
        }
        guard headLength != nil else { return nil }
        let fields = HTTPHead.fields(head)
        contentType = fields["content-type"]
        if fields["transfer-encoding"]?.lowercased().contains("chunked") == true {
            var decoder = ChunkedDecoder()
            bytes = decoder.payload(in: raw[...])
            complete = !cut && decoder.finished
        } else if let length = fields["content-length"].flatMap({ Int($0) }) {
            bytes = Array(raw.prefix(length))
            complete = !cut && raw.count >= length
        } else {
            bytes = raw
            complete = !cut
        }
        if let wanted, bytes.count > wanted { bytes = Array(bytes.prefix(wanted)) }
    }
}
