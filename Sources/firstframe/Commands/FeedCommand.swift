import ArgumentParser
import FirstFrame
import FirstFrameCore
import FirstFrameFFmpeg
import Foundation

/// `firstframe feed URL...`: plays rooms one after another the way a user swipes through a feed, with a
/// ``StreamPreloader`` preparing the next ones, and prints each switch: the state the room was in and the time from
/// the swipe to its first picture.
struct FeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "Swipe through rooms with a preloader and print each switch time and state.",
        discussion: """
            Each room is watched for --dwell seconds (its packets read as a player would), while the next --preload \
            rooms are opened ahead and kept hot, the --connect rooms after them get a warm connection to their edge, \
            and the rest of the list is resolved; then the next room is opened through the preloader. --preload 0 \
            --connect 0 measures resolved switches (with a preset without a DNS cache, cold ones). The same URL twice \
            in the list is two visits to one room.
            """
    )

    @Argument(help: "The rooms, in the order the user swipes to them.")
    var urls: [String]

    @OptionGroup var knobOptions: KnobOptions

    @Option(help: "Rooms ahead kept preloaded (0…8).")
    var preload = 1

    @Option(help: "Rooms after the preloaded ones given a warm connection to their edge (0…8).")
    var connect = 2

    @Flag(help: "Race a room's first two addresses for its warm connection (the first to connect is kept).")
    var raceEdges = false

    @Option(help: "Seconds on each room before the next swipe (0.1…600).")
    var dwell = 3.0

    @Option(help: "Times through the list (1…1000).")
    var cycles = 1

    @Option(help: "The most bytes a preloaded room holds (its newest GOP).")
    var bytesPerStream = 4 << 20

    @Flag(help: "One JSON line per switch instead of a table.")
    var json = false

    func validate() throws {
        guard !urls.isEmpty else { throw ValidationError("give at least one URL") }
        guard dwell.isFinite, (0.1...600).contains(dwell) else { throw ValidationError("--dwell must be 0.1…600") }
        guard (1...1000).contains(cycles) else { throw ValidationError("--cycles must be 1…1000") }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let knobs = try knobOptions.knobs()
        let opener = try StreamOpener(knobs: knobs, presetName: knobOptions.label, logger: CommandLineLogging.opens)
        let preloader: StreamPreloader
        do {
            preloader = try StreamPreloader(
                opener: opener,
                configuration: .init(
                    preloadedStreams: preload,
                    bytesPerStream: bytesPerStream,
                    warmConnections: connect,
                    raceEdges: raceEdges
                )
            )
        } catch {
            throw ValidationError(error.description)
        }
        defer { preloader.close() }
        let visits = (0..<cycles).flatMap { _ in urls }
        if !json { print("room  state       switch ms  first picture ms  held KB  url") }
        var failures = 0
        for (index, url) in visits.enumerated() {
            let stream: OpenedStream
            do {
                stream = try await preloader.open(url)
            } catch {
                failures += 1
                print(
                    json
                        ? Self.jsonLine(["room": index, "url": url, "error": "\(error)"]) : "\(index)  failed: \(error)"
                )
                preloader.setCandidates(Array(visits[(index + 1)...].prefix(preload + connect + 2)))
                continue
            }
            // The swipe is done: prepare the rooms after this one while it is watched.
            preloader.setCandidates(Array(visits[(index + 1)...].prefix(preload + connect + 2)))
            let report = stream.report
            let preload = report.preload
            let line: [String: any Sendable] = [
                "room": index, "url": InputPolicy.redacted(url), "state": preload?.state.rawValue ?? "cold",
                "switchMs": preload?.switchMs ?? 0, "openFirstPictureMs": report.summary.firstVideoFrameMs ?? 0,
                "heldBytes": preload?.heldBytes ?? 0, "preparedMs": preload?.preparedMs ?? 0,
                "bytesReadWhilePreloaded": preload?.bytesReadWhilePreloaded ?? 0,
                // The process's resident memory as the switch happened: with --preload N it holds N rooms.
                "residentBytes": ProcessStats.current()?.residentBytes ?? 0,
            ]
            if json {
                print(Self.jsonLine(line))
            } else {
                print(
                    String(
                        format: "%4d  %@ %9.1f  %16.1f  %7.0f  %@",
                        index,
                        (preload?.state.rawValue ?? "cold").padding(toLength: 10, withPad: " ", startingAt: 0)
                            as NSString,
                        preload?.switchMs ?? 0,
                        report.summary.firstVideoFrameMs ?? 0,
                        Double(preload?.heldBytes ?? 0) / 1000,
                        InputPolicy.redacted(url) as NSString
                    )
                )
            }
            await Self.watch(stream, seconds: dwell)
            stream.close()
        }
        let stats = preloader.stats
        if !json {
            print(
                String(
                    format: "unused preloaded rooms: %d, %.0f KB read, %.1f s hot",
                    stats.unusedRooms,
                    Double(stats.unusedBytes) / 1000,
                    stats.unusedSeconds
                )
            )
        }
        if failures == visits.count { throw ExitCode(1) }
    }

    /// Reads the stream's packets for `seconds`, as a player would (on the stream's own read-ahead thread).
    private static func watch(_ stream: OpenedStream, seconds: Double) async {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let reader = Task {
            do {
                for try await _ in stream.packets() where ContinuousClock.now >= deadline { break }
            } catch {}
        }
        try? await Task.sleep(until: deadline)
        stream.close()
        _ = await reader.value
    }

    private static func jsonLine(_ fields: [String: any Sendable]) -> String {
        let object = fields.mapValues { $0 as Any }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
