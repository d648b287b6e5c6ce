import Dispatch
import FirstFrameCore
import Logging

/// A ``DNSCache/Configuration`` setting out of range: the setting's name and the rule it breaks.
public enum DNSCacheConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalid(String, String)

    public var description: String {
        switch self {
        case .invalid(let name, let rule): "DNS cache \(name) \(rule)"
        }
    }
}
