import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// What every connection's handler shares: the channel, the configuration and the viewer registry.
struct OriginCore: Sendable {
    let configuration: OriginConfiguration
    let channel: LiveChannel
    let registry: ViewerRegistry
    let logger: Logger

    func stats() -> OriginStats {
        registry.stats(tagsEmitted: channel.tagsEmitted, channelTime: channel.channelTime)
    }
}
