import Testing

@testable import FirstFrameCore

@Suite struct URLRedactionTests {
    @Test(arguments: [
        ("Opening 'http://user:secret@host/a.flv' for reading", "Opening 'http://***@host/a.flv' for reading"),
        ("rtmp://u:p@h:1935/app/key and https://x@y/z", "rtmp://***@h:1935/app/key and https://***@y/z"),
        ("http://host/path@not-userinfo", "http://host/path@not-userinfo"),
        ("http://a:b@c:d@host/", "http://***@host/"),
        ("no url here @ all", "no url here @ all"),
        ("http://user:pw@host?x=1", "http://***@host?x=1"),
    ])
    func userinfoIsReplaced(input: String, expected: String) {
        #expect(URLRedaction.redactingUserinfo(in: input) == expected)
    }

    @Test func nothingSecretSurvivesAnyPosition() {
        let secret = "s3cr3t-pa55"
        for prefix in ["", "x ", "'", "\""] {
            for suffix in ["", "/", "?q", "#f", " tail", "'"] {
                let text = "\(prefix)https://admin:\(secret)@edge.example:8443\(suffix)"
                #expect(!URLRedaction.redactingUserinfo(in: text).contains(secret), "\(text)")
            }
        }
    }
}
