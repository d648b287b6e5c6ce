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

    private enum Step: Sendable {
        case answered(DNSAnswer)
        case failed(Int, DNSError)
        /// Resolver `n` has been slow for `hedgeAfter`.
        case slow(Int)
    }

    public func resolve(host: String, families: AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer {
        let resolvers = self.resolvers
        let hedge = hedgeAfter
        let outcome: Result<DNSAnswer, DNSError> = await withTaskGroup(of: Step.self) { group in
            var launched = 0
            var running = 0
            var errors: [Int: DNSError] = [:]
            func launchNext() {
                let index = launched
                let resolver = resolvers[index]
                launched += 1
                running += 1
                group.addTask {
                    do throws(DNSError) {
                        return .answered(try await resolver.resolve(host: host, families: families))
                    } catch {
                        return .failed(index, error)
                    }
                }
                if launched < resolvers.count {
                    group.addTask {
                        try? await Task.sleep(for: .seconds(hedge))
                        return .slow(index)
                    }
                }
            }
            launchNext()
            while let step = await group.next() {
                switch step {
                case .answered(let answer):
                    group.cancelAll()
                    return .success(answer)
                case .failed(let index, let error):
                    errors[index] = error
                    running -= 1
                    if launched < resolvers.count, launched == index + 1 || running == 0 { launchNext() }
                    if running == 0, launched == resolvers.count {
                        group.cancelAll()
                        return .failure(errors[errors.keys.min()!]!)
                    }
                case .slow(let index):
                    if !Task.isCancelled, launched == index + 1, launched < resolvers.count { launchNext() }
                }
            }
            return .failure(.cancelled(host))
        }
        return try outcome.get()
    }
}
