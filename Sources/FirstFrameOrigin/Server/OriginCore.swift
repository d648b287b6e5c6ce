import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// What every connection's handler shares: the channels, the configuration and the viewer registry.
struct OriginCore: Sendable {
    let configuration: OriginConfiguration
    let channels: ChannelDirectory
    let registry: ViewerRegistry
    let logger: Logger

    func stats() -> OriginStats {
        registry.stats(standard: channels.standard, channels: channels.channels)
    }
}
