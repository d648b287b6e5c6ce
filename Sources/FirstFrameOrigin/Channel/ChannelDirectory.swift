import FirstFrameCore
import NIOCore
import Synchronization

/// The origin's channels by name: `stream` from the start, any other name created on its first request.
///
/// A new name needs its look's program: synthesised on a thread of its own the first time any name needs that
/// look (and kept for the life of the process by ``ChannelProgram/synthesized(_:look:)``), then shared. Requests
/// that arrive while it is being made wait for the same future, so concurrent first requests for one name (or
/// for names sharing a look) synthesise once and create the channel once.
final class ChannelDirectory: Sendable {
    /// What a request finds under a name.
    enum Lookup {
        case ready(LiveChannel)
        /// Being created; completes with the channel, or fails with ``Ended`` when the name ended meanwhile.
        case pending(EventLoopFuture<LiveChannel>)
        case ended
        /// ``OriginConfiguration/maximumChannels`` names exist already.
        case full
    }

    /// The channel ended, or the origin shut down, before a pending channel was ready.
    struct Ended: Error {}

    private enum Entry {
        case pending(EventLoopFuture<LiveChannel>)
        case ready(LiveChannel)
        /// Ended; the channel is kept for statistics (nil when it ended before it was ever created).
        case ended(LiveChannel?)
    }

    private struct State {
        var channels: [ChannelName: Entry] = [:]
        var programs: [ChannelLook: EventLoopFuture<PreparedProgram>] = [:]
        var stopped = false
    }

    private let state: Mutex<State>
    private let group: any EventLoopGroup
    private let media: MediaConfiguration
    private let distinctPrograms: Int
    private let maximumChannels: Int
    /// Each channel's sent log capacity, when the origin logs what it sends.
    private let sentLogCapacity: Int?
    /// The channel every origin starts with (``ChannelName/standard``).
    let standard: LiveChannel

    init(configuration: OriginConfiguration, group: any EventLoopGroup, standardProgram: ChannelProgram) {
        self.group = group
        self.media = configuration.media
        self.distinctPrograms = configuration.distinctPrograms
        self.maximumChannels = configuration.maximumChannels
        let sentLogCapacity = configuration.logsSentTags ? configuration.sentLogCapacity : nil
        self.sentLogCapacity = sentLogCapacity
        let prepared = PreparedProgram(standardProgram)
        standard = LiveChannel(
            name: .standard,
            prepared: prepared,
            clockLoop: group.next(),
            sentLogCapacity: sentLogCapacity
        )
        var state = State()
        state.channels[.standard] = .ready(standard)
        state.programs[standardProgram.look] = group.next().makeSucceededFuture(prepared)
        self.state = Mutex(state)
    }

    /// The channel named `name`, creating it (and synthesising its look) if this is the first request for it.
    func channel(named name: ChannelName) -> Lookup {
        enum Step {
            case found(Lookup)
            case create(
                program: EventLoopFuture<PreparedProgram>,
                synthesis: EventLoopPromise<PreparedProgram>?,
                channel: EventLoopPromise<LiveChannel>
            )
        }
        let look = name.look(distinctPrograms: distinctPrograms)
        let step: Step = state.withLock { state in
            switch state.channels[name] {
            case .ready(let channel): return .found(.ready(channel))
            case .pending(let future): return .found(.pending(future))
            case .ended: return .found(.ended)
            case nil: break
            }
            guard !state.stopped else { return .found(.ended) }
            guard state.channels.count < maximumChannels else { return .found(.full) }
            let channel = group.next().makePromise(of: LiveChannel.self)
            state.channels[name] = .pending(channel.futureResult)
            if let program = state.programs[look] { return .create(program: program, synthesis: nil, channel: channel) }
            let synthesis = group.next().makePromise(of: PreparedProgram.self)
            state.programs[look] = synthesis.futureResult
            return .create(program: synthesis.futureResult, synthesis: synthesis, channel: channel)
        }
        switch step {
        case .found(let lookup):
            return lookup
        case .create(let program, let synthesis, let channel):
            // Outside the lock: a future that is already complete runs its callback at once, and that callback
            // takes the lock again.
            if let synthesis {
                let media = self.media
                synthesis.completeWithTask {
                    try await DedicatedThread.run(name: "firstframe.origin.synthesis") {
                        PreparedProgram(try ChannelProgram.synthesized(media, look: look))
                    }
                }
            }
            program.flatMapThrowing { prepared in try self.makeChannel(name, prepared) }.cascade(to: channel)
            return .pending(channel.futureResult)
        }
    }

    /// Creates channels for `names` that have none yet and waits until every one is ready, so that a test's
    /// first requests do not wait for an encode.
    func prepare(_ names: [ChannelName]) async throws {
        var pending: [EventLoopFuture<LiveChannel>] = []
        for name in names {
            switch channel(named: name) {
            case .ready: continue
            case .pending(let future): pending.append(future)
            case .ended: throw OriginError.invalidConfiguration("channel \(name) has ended")
            case .full:
                throw OriginError.invalidConfiguration("channel \(name): the origin has its maximum number of channels")
            }
        }
        for future in pending { _ = try await future.get() }
    }

    /// Ends the channel `name` (created or not): its viewers' responses end on a tag boundary, and every later
    /// request for the name is answered 404.
    func end(_ name: ChannelName) {
        let channel: LiveChannel? = state.withLock { state in
            switch state.channels[name] {
            case .ready(let channel):
                state.channels[name] = .ended(channel)
                return channel
            case .ended:
                return nil
            case .pending, nil:
                // A pending creation sees this and fails with `Ended`; its waiting requests answer 404.
                state.channels[name] = .ended(nil)
                return nil
            }
        }
        channel?.end()
    }

    /// The channel `name` if it has been created (ended or not); never creates one.
    func existingChannel(named name: ChannelName) -> LiveChannel? {
        state.withLock { state in
            switch state.channels[name] {
            case .ready(let channel), .ended(let channel?): channel
            case .ended(nil), .pending, nil: nil
            }
        }
    }

    /// Every channel created so far, ended ones included, by name.
    var channels: [LiveChannel] {
        state.withLock { state in
            state.channels.values.compactMap { entry -> LiveChannel? in
                switch entry {
                case .ready(let channel): channel
                case .ended(let channel): channel
                case .pending: nil
                }
            }
        }.sorted { $0.name.value < $1.name.value }
    }

    /// Stops every clock, refuses new channels, and waits for syntheses still running, so that none completes
    /// onto an event loop group that is shutting down.
    func stop() async {
        let (channels, programs) = state.withLock { state in
            state.stopped = true
            return (state.channels.values, Array(state.programs.values))
        }
        for entry in channels {
            switch entry {
            case .ready(let channel), .ended(let channel?): channel.stop()
            case .ended(nil), .pending: break
            }
        }
        for program in programs { _ = try? await program.get() }
    }

    private func makeChannel(_ name: ChannelName, _ prepared: PreparedProgram) throws -> LiveChannel {
        let start = prepared.startingAt(gop: name.firstGOP(gopsPerLoop: prepared.program.gopsPerLoop))
        let channel = LiveChannel(
            name: name,
            prepared: start,
            clockLoop: group.next(),
            sentLogCapacity: sentLogCapacity
        )
        let created = state.withLock { state -> Bool in
            guard !state.stopped, case .pending = state.channels[name] else { return false }
            state.channels[name] = .ready(channel)
            return true
        }
        guard created else { throw Ended() }
        channel.start()
        return channel
    }
}
