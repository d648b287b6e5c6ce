import FirstFrameCore
import Dispatch
import Logging

public enum DNSCacheConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalid(String, String)

    public var description: String {
        switch self {
        case .invalid(let name, let rule): "DNS cache \(name) \(rule)"
        }
    }
}
