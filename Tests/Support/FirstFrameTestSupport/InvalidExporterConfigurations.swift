/// Exporter configuration files that must be refused, each with a piece of the message that names what is wrong:
/// one table for the parser's in-process tests and the CLI's refusal to start.
public enum InvalidExporterConfigurations {
    /// The cases the CLI is started with (`firstframe exporter --config FILE` must exit non-zero, printing the
    /// message): one of each kind of mistake.
    public static let refusedAtStart: [(json: String, message: String)] = [
        (
            #"{"targets": [{"name": "a", "url": "http://h/a.flv"}, {"name": "a", "url": "http://h/b.flv"}]}"#,
            "used twice"
        ),
        (
            #"{"targets": [{"name": "a", "url": "http://h/a.flv", "labels": {"target": "x"}}]}"#,
            "label name \"target\""
        ),
        (
            #"{"targets": [{"name": "a", "url": "http://h/a.flv", "set": {"fpsprobesize": "many"}}]}"#,
            "fpsprobesize"
        ),
        (#"{"targets": [{"name": "a b", "url": "http://h/a.flv"}]}"#, "name \"a b\""),
        (#"{"targets": [], "concurrency": 0}"#, "concurrency"),
    ]

    /// Every case the parser must refuse: those above and more.
    public static let refused: [(json: String, message: String)] =
        refusedAtStart + [
            (#"{"targets": [{"name": "a", "url": "http://h/a.flv", "intervall": 5}]}"#, "unknown key \"intervall\""),
            (#"{"targets": [{"name": "a"}]}"#, "targets[0].url is missing"),
            (#"{"targets": [], "jitter": 0.9}"#, "jitter"),
            ("{not json", "not JSON"),
        ]
}
