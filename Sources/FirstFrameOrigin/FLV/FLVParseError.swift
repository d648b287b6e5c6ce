/// Errors found while reading an FLV byte stream.
package enum FLVParseError: Error, Equatable, Sendable {
    case notFLV
    case unsupportedTagType(UInt8, offset: Int)
    case previousTagSizeMismatch(expected: UInt32, found: UInt32, offset: Int)
}
