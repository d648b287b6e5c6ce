import FirstFrameCore

/// Something that learns from the traces captures produce (an opener's ``DNSCache`` learns its addresses' connect
/// times and failures): passed to a capture, or registered for every capture in the process.
package protocol NetworkTraceObserver: AnyObject, Sendable {
    /// A capture ended with `trace`; called on the thread that captured it.
    func traceEnded(_ trace: NetworkTrace)
}

/// The observers told of every capture in the process when it ends (the outermost one, when captures nest: an
/// inner capture's events are the outer one's too). The installed ``DNSCache`` is one
/// (``DNSCache/install()``).
package enum NetworkTraceObservers {
    private static let registered = Locked<[any NetworkTraceObserver]>([])

    /// Tells `observer` of every capture from now on (once, however often it is registered).
    package static func register(_ observer: any NetworkTraceObserver) {
        registered.withLock { observers in
            if !observers.contains(where: { $0 === observer }) { observers.append(observer) }
        }
    }

    package static func unregister(_ observer: any NetworkTraceObserver) {
        registered.withLock { observers in observers.removeAll { $0 === observer } }
    }

    /// Tells a capture's own `observer` of `trace`, unless it is registered, and the registered ones when the
    /// capture was the outermost: each observer learns each trace once.
    static func traceEnded(_ trace: NetworkTrace, observer: (any NetworkTraceObserver)?, outermost: Bool) {
        let observers = registered.withLock { $0 }
        if let observer, !observers.contains(where: { $0 === observer }) { observer.traceEnded(trace) }
        if outermost {
            for registered in observers { registered.traceEnded(trace) }
        }
    }
}
