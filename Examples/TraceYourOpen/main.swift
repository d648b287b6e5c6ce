// Player code that calls avformat_open_input itself: wrap your own calls in NetworkTrace.capture to see
// FFmpeg's DNS, every connect attempt, TLS and each HTTP hop, and let a DNS cache answer its getaddrinfo.
//
//   swift run trace-your-open http://stream.test:8080/gop/stream.flv --resolve stream.test=127.0.0.1
//
// Rules: the blocking FFmpeg calls run on the thread that captures (tracing is per thread), and that thread is
// not one of Swift's cooperative pool (here: the main thread of a synchronous program).
import CFFmpeg
import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import Foundation

var arguments = Array(CommandLine.arguments.dropFirst())
var resolveEntries: [String] = []
while let flag = arguments.firstIndex(of: "--resolve"), flag + 1 < arguments.count {
    resolveEntries.append(arguments[flag + 1])
    arguments.removeSubrange(flag...flag + 1)
}
guard arguments.count == 1 else {
    print("usage: trace-your-open URL [--resolve host=ip[,ip]]...")
    exit(2)
}
let url = arguments[0]
FFmpegLog.level = .error

// 1. The cache: static entries first, the system resolver for everything else. IPv4 only (the default).
let resolver: any Resolver =
    resolveEntries.isEmpty
    ? SystemResolver()
    : ResolverChain([try StaticResolver(entries: resolveEntries), SystemResolver()])
let cache = DNSCache(configuration: .init(resolver: resolver))
cache.install()

// 2. Your own FFmpeg calls, unchanged, inside the capture. The interrupt callback bounds the open as usual;
//    withLookupDeadline extends the same deadline to the lookup, which FFmpeg cannot interrupt.
let interrupter = Interrupter(timeout: .seconds(10))
let start = MonotonicClock.nanoseconds()
let (status, trace) = NetworkTrace.capture { () -> Int32 in
    DNSCache.withLookupDeadline(interrupter) {
        var context: UnsafeMutablePointer<AVFormatContext>? = avformat_alloc_context()
        let opened = avformat_open_input(&context, url, nil, nil)
        if opened == 0 {
            _ = avformat_find_stream_info(context, nil)
            avformat_close_input(&context)
        }
        return opened
    }
}

// 3. The trace: one hop per request, times relative to when the open was asked for.
func at(_ time: UInt64?) -> String {
    guard let time else { return "      -" }
    return String(format: "%7.1f", Double(Int64(bitPattern: time &- start)) / 1e6)
}
for hop in trace.hops {
    print("hop \(hop.index): \(hop.kind.rawValue) \(hop.url ?? hop.host ?? "?")")
    if let lookup = hop.lookup {
        let answers = lookup.answers.map { $0.address.description }.joined(separator: ", ")
        print(
            "  dns      \(at(lookup.start)) → \(at(lookup.end)) ms  \(lookup.source.rawValue)  [\(answers)]\(lookup.error.map { "  " + $0 } ?? "")"
        )
    }
    for attempt in hop.connects {
        print(
            "  connect  \(at(attempt.start)) → \(at(attempt.end)) ms  \(attempt.address)  \(attempt.outcome.rawValue)\(attempt.error.map { "  " + $0 } ?? "")"
        )
    }
    if hop.secureConnectionStart != nil {
        print("  tls      \(at(hop.secureConnectionStart)) → \(at(hop.secureConnectionEnd)) ms")
    }
    print(
        "  request  \(at(hop.requestStart)) ms, first response byte \(at(hop.responseStart)) ms  \(hop.statusLine ?? "")"
    )
    if let target = hop.redirectTo { print("  redirect → \(target)") }
}
print(
    "avformat_open_input: \(status == 0 ? "ok" : FFmpegError(code: status, operation: "avformat_open_input").description)"
)
print("cache: \(cache.stats)")
DNSCache.uninstall()
exit(status == 0 ? 0 : 1)
