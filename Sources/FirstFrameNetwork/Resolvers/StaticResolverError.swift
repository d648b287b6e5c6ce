import FirstFrameCore

/// A ``StaticResolver`` entry that is not `host=ip[,ip...]`.
public enum StaticResolverError: Error, Sendable, Hashable, CustomStringConvertible {
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed(let entry): "expected host=ip[,ip...], got \"\(entry)\""
        }
    }
}
