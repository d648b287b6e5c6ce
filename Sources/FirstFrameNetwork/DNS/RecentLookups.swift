import FirstFrameCore

/// The last lookups a cache answered on tracing threads, so an open's report can say which address each of its
/// lookups put first and why: the trace records a lookup's host, times and answers, not the cache's reasons.
///
/// A ring: an open reads its own lookups back moments after making them, so only a burst of more than
/// `capacity` traced lookups in between (hundreds of opens at once) can push one out, and its report then
/// just lacks the choice.
struct RecentLookups {
    private struct Record {
        var time: UInt64
        var lookup: DNSCache.Lookup
    }

    let capacity: Int
    private var records: [Record] = []
    private var next = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Keeps `lookup`, answered at `time` (`MonotonicClock` ns), in place of the oldest when full.
    mutating func append(_ lookup: DNSCache.Lookup, at time: UInt64) {
        let record = Record(time: time, lookup: lookup)
        if records.count < capacity {
            records.append(record)
        } else {
            records[next] = record
        }
        next = (next + 1) % capacity
    }

    /// The latest lookup of `host` answered between `start` and `end` whose first address is `first` (when
    /// given): the getaddrinfo call the trace saw, told apart from another thread's lookup of the same host at the
    /// same moment by its answer when the two answers differ (when they do not, the choices are the same).
    func find(host: String, from start: UInt64, to end: UInt64, first: IPAddress?) -> DNSCache.Lookup? {
        records.filter { record in
            record.time >= start && record.time <= end && record.lookup.host == host
                && (first == nil || record.lookup.addresses.first == first)
        }.max { $0.time < $1.time }?.lookup
    }
}
