import CNetworkHooks
import FirstFrameCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Just enough HTTP/1 head parsing for the trace, and the one head-end scan every reader of raw HTTP in this
/// package uses (the trace, the opener's keyframe arrival, the bench's floor reader, the load client).
package enum HTTPHead {
    private static let methods = ["GET ", "POST ", "HEAD ", "PUT ", "OPTIONS ", "DELETE ", "PATCH "]

    /// The length of the head (through its blank line) at the start of `data`, nil if the blank line is not in it.
    ///
    /// - Parameter start: where the blank line may begin at the earliest: a reader that grows `data` read by read
    ///   passes what it scanned before (less 3), so a long head is scanned once, not once per read.
    package static func headLength(_ data: [UInt8], searchingFrom start: Int = 0) -> Int? {
        guard data.count >= 4 else { return nil }
        return data.withUnsafeBufferPointer { bytes -> Int? in
            var index = max(0, start)
            while index <= bytes.count - 4 {
                if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 {
                    return index + 4
                }
                index += 1
            }
            return nil
        }
    }

    /// A head's header fields, names lowercased (a repeated field keeps its last value).
    package static func fields(_ head: [UInt8]) -> [String: String] {
        var result: [String: String] = [:]
        for line in lines(head).dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
        }
        return result
    }

    static func isRequest(_ data: [UInt8]) -> Bool {
        methods.contains { data.starts(with: Array($0.utf8)) }
    }

    private static func lines(_ data: [UInt8]) -> [Substring] {
        // Only the head becomes text: the bytes after its blank line are the body (media, often tens of KB of
        // binary that would be scanned and repaired as UTF-8 for nothing).
        let end = headLength(data).map { $0 - 4 } ?? data.count
        let text = String(decoding: data[..<end], as: UTF8.self)
        return text.split(separator: "\r\n", omittingEmptySubsequences: false)
    }

    private static func header(_ name: String, in lines: [Substring]) -> String? {
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == name {
                return line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            }
        }
        return nil
    }

    static func request(_ data: [UInt8]) -> (target: String, host: String?)? {
        let lines = lines(data)
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count >= 2 else { return nil }
        return (String(parts[1]), header("host", in: lines))
    }

    /// The status line (whatever the server put first: FFmpeg reads any line as one), its status when it is an
    /// HTTP status line, and the `Location`.
    package static func response(_ data: [UInt8]) -> (statusLine: String, status: Int?, location: String?)? {
        let lines = lines(data)
        guard let first = lines.first, !first.isEmpty else { return nil }
        let parts = first.split(separator: " ")
        let status = first.hasPrefix("HTTP/") && parts.count > 1 ? Int(parts[1]) : nil
        return (String(first.prefix(200)), status, header("location", in: lines))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        guard let first = firstIndex(where: { !set.contains($0) }), let last = lastIndex(where: { !set.contains($0) })
        else { return "" }
        return String(self[first...last])
    }
}
