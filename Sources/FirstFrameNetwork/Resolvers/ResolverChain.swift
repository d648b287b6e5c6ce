import FirstFrameCore

/// Resolvers tried in order, the field report's "local DNS, then HTTP-DNS": the next one starts when the
/// one before fails, or when it has not answered within `hedgeAfter` seconds (then both race, and the first
/// answer wins). Fails only when every resolver has failed, with the first resolver's error.
public struct ResolverChain: Resolver {
    public let name: String
    public let resolvers: [any Resolver]
    public let hedgeAfter: Double

    public init(_ resolvers: [any Resolver], hedgeAfter: Double = 0.3) {
        precondition(!resolvers.isEmpty, "a resolver chain needs at least one resolver")
        self.resolvers = resolvers
        self.hedgeAfter = max(0, hedgeAfter)
        self.name = resolvers.map(\.name).joined(separator: ">")
    }

    public func resolve(host: String, families: AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer {
        let run = ChainRun(resolvers: resolvers, hedgeAfter: hedgeAfter, host: host, families: families)
        let outcome = await withTaskCancellationHandler {
            run.start()
            return await run.answer.value()
        } onCancel: {
            run.answer.offer(.failure(.cancelled(host)))
            run.cancelRemaining()
        }
        return try outcome.get()
    }
}

/// One resolution through a chain: who has been started, who failed, and the first answer.
private final class ChainRun: Sendable {
    let answer = FirstAnswer<Result<DNSAnswer, DNSError>>()
    private let resolvers: [any Resolver]
    private let hedgeAfter: Double
    private let host: String
    private let families: AddressFamilyPolicy

    private struct Progress {
        var launched = 0
        var running = 0
        var errors: [Int: DNSError] = [:]
        /// The resolutions and hedge timers still running, cancelled once there is an answer.
        var tasks: [Task<Void, Never>] = []
    }

    private let progress = Locked(Progress())

    init(resolvers: [any Resolver], hedgeAfter: Double, host: String, families: AddressFamilyPolicy) {
        self.resolvers = resolvers
        self.hedgeAfter = hedgeAfter
        self.host = host
        self.families = families
    }

    func start() { launch(after: -1) }

    /// Starts the resolver after `index`, if that is the next one not yet started.
    private func launch(after index: Int) {
        let next: Int? = progress.withLock { progress in
            guard progress.launched == index + 1, progress.launched < resolvers.count else { return nil }
            progress.launched += 1
            progress.running += 1
            return progress.launched - 1
        }
        guard let next, !answer.isAnswered else { return }
        let resolver = resolvers[next]
        let (host, families) = (self.host, self.families)
        var started = [
            Task {
                do throws(DNSError) {
                    answer.offer(.success(try await resolver.resolve(host: host, families: families)))
                    cancelRemaining()
                } catch {
                    failed(next, error)
                }
            }
        ]
        if next + 1 < resolvers.count {
            let hedge = hedgeAfter
            started.append(
                Task {
                    try? await Task.sleep(for: .seconds(hedge))
                    if !Task.isCancelled { launch(after: next) }
                }
            )
        }
        progress.withLock { $0.tasks += started }
        if answer.isAnswered { cancelRemaining() }
    }

    /// Losers are told to stop (a resolver blocked in a thread finishes on its own; its answer is ignored).
    func cancelRemaining() {
        progress.withLock { progress in
            for task in progress.tasks { task.cancel() }
            progress.tasks = []
        }
    }

    private func failed(_ index: Int, _ error: DNSError) {
        let exhausted: DNSError? = progress.withLock { progress in
            progress.errors[index] = error
            progress.running -= 1
            guard progress.running == 0, progress.launched == resolvers.count else { return nil }
            return progress.errors[progress.errors.keys.min()!]
        }
        if let exhausted {
            answer.offer(.failure(exhausted))
        } else {
            launch(after: index)
            // Nothing running and the next was already started by its hedge timer: it will report.
        }
    }
}
