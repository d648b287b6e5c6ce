import FirstFrame
import FirstFrameNetwork

/// The hosts the commands that make traffic of their own (`load`, `bench rtmp`) may reach: this machine only.
package enum LoopbackHost {
    /// `localhost`, or an address literal in 127.0.0.0/8 or `::1` (bracketed or not): a name such as
    /// `127.example.com` is not loopback, whatever it starts with.
    package static func contains(_ host: String) -> Bool {
        host.lowercased() == "localhost" || IPAddress(host)?.isLoopback == true
    }
}
