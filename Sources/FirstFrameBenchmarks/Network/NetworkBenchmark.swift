import Foundation

/// The network-conditions bench (issue 23): for each profile, the rig up with that link (`rig.py up`), every
/// protocol × contender opened round by round, interleaved (`measure.py`), its JSON kept; at the end one table of
/// p50/p90 and multiples of the floor per protocol × contender × profile (`table.py`). The rig is torn down at the
/// end, on failure and on ``NetworkRig/cancel()`` unless ``Options/keepUp``.
///
/// The servers and the measuring live in `scripts/network-rig/` (Python, documented in its README: the servers, the
/// contenders, the floor model); this is their front, with the options validated and the preflight typed.
package enum NetworkBenchmark {
    /// The rig's protocols: HTTP-FLV (GOP cache), HTTPS-FLV (nginx TLS), HLS (nginx-rtmp), RTMP (nginx-rtmp),
    /// `ffmpeg -listen`.
    package static let protocols = ["flv", "https", "hls", "rtmp", "listen"]
    /// Contenders that are `firstframe probe --preset P`.
    package static let presets = ["instant", "ffmpeg", "ijkplayer", "fieldReport"]
    /// Every contender `measure.py` knows: the presets, tuned stock FFmpeg in C, mpv low-latency, the ffmpeg CLI.
    package static let contenders = presets + ["ffmpeg-tuned", "mpv", "ffmpeg-cli"]
    /// The contenders of issue 23's table, and the ffmpeg CLI.
    package static let defaultContenders = ["instant", "ffmpeg", "ijkplayer", "ffmpeg-tuned", "mpv", "ffmpeg-cli"]

    /// One run's choices, validated by ``validated(protocols:contenders:)``.
    package struct Options: Sendable {
        package var profiles: [NetworkProfile]
        package var protocols: [String]
        package var contenders: [String]
        /// Rounds per profile; each opens every protocol × contender once.
        package var repeats: Int
        /// Where each profile's JSON goes (`PROFILE.json`).
        package var outDirectory: URL
        /// The `firstframe` the preset contenders run.
        package var binary: String
        /// Leave the last profile's rig up at the end (and on failure).
        package var keepUp: Bool

        package init(
            profiles: [NetworkProfile],
            protocols: [String],
            contenders: [String],
            repeats: Int,
            outDirectory: URL,
            binary: String,
            keepUp: Bool
        ) {
            self.profiles = profiles
            self.protocols = protocols
            self.contenders = contenders
            self.repeats = repeats
            self.outDirectory = outDirectory
            self.binary = binary
            self.keepUp = keepUp
        }
    }

    /// What a run produced.
    package struct Outcome: Sendable {
        /// `table.py`'s Markdown: the table and a line of floors and load per profile.
        package let table: String
        /// Each profile's `measure.py` JSON, in the order run.
        package let files: [(profile: String, url: URL)]

        /// One JSON document: per profile its file, `meta` (rig, floors, load) and `summary` (rows), not the opens.
        package func json() throws -> String {
            var profiles: [[String: Any]] = []
            for (profile, url) in files {
                guard let data = try? Data(contentsOf: url),
                    let result = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                else {
                    throw NetworkBenchError.resultsUnreadable("\(url.path) is not a measure.py result")
                }
                profiles.append([
                    "profile": profile, "file": url.path, "meta": result["meta"] ?? NSNull(),
                    "summary": result["summary"] ?? NSNull(),
                ])
            }
            let data = try JSONSerialization.data(withJSONObject: ["profiles": profiles], options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Checks a comma-separated list against `known`: each known, none twice, at least one.
    package static func list(_ text: String, known: [String], option: String) throws(NetworkBenchError) -> [String] {
        var items: [String] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard known.contains(item) else {
                throw .invalidOption("\(option): unknown '\(item)' (\(known.joined(separator: ", ")))")
            }
            guard !items.contains(item) else { throw .invalidOption("\(option): '\(item)' given twice") }
            items.append(item)
        }
        return items
    }

    /// Runs every profile in turn on `rig`; `log` gets one line per step (the scripts' own output goes to standard
    /// error as they run).
    package static func run(
        _ options: Options,
        rig: NetworkRig,
        log: @Sendable (String) -> Void
    ) async throws -> Outcome {
        try await rig.preflight(profiles: options.profiles, contenders: options.contenders, binary: options.binary)
        do {
            try FileManager.default.createDirectory(at: options.outDirectory, withIntermediateDirectories: true)
        } catch {
            throw NetworkBenchError.invalidOption("--out \(options.outDirectory.path): \(error.localizedDescription)")
        }
        let arguments = [
            "--repeat", String(options.repeats), "--contenders", options.contenders.joined(separator: ","),
            "--protocols", options.protocols.joined(separator: ","), "--binary", options.binary,
        ]
        var files: [(profile: String, url: URL)] = []
        do {
            for profile in options.profiles {
                log("bench network: \(profile): rig \(rig.namespace) up")
                try await rig.up(profile)
                let file = options.outDirectory.appendingPathComponent("\(profile.name).json")
                log("bench network: \(profile): measuring, \(options.repeats) rounds")
                try await rig.measure(profile, arguments: arguments, output: file)
                files.append((profile.name, file))
            }
        } catch {
            if options.keepUp {
                log("bench network: the rig \(rig.namespace) stays up (--keep-up)")
            } else {
                log("bench network: tearing the rig \(rig.namespace) down")
                await rig.down()
            }
            throw error
        }
        if !options.keepUp {
            await rig.down()
        }
        return Outcome(table: try await rig.table(files.map(\.url)), files: files)
    }
}
