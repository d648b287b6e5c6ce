import CFFmpeg
import FirstFrameCore

/// The `AVIOInterruptCB` that binds an `Interrupter` to an FFmpeg context.
enum InterruptCallback {
    /// A callback for `interrupter`; the context that holds it must keep the interrupter alive (it is passed
    /// unretained).
    static func make(for interrupter: Interrupter) -> AVIOInterruptCB {
        AVIOInterruptCB(callback: poll, opaque: Unmanaged.passUnretained(interrupter).toOpaque())
    }

    /// What FFmpeg calls while it blocks: non-zero stops the call with `AVERROR_EXIT`.
    private static let poll: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { opaque in
        guard let opaque else { return 0 }
        return Unmanaged<Interrupter>.fromOpaque(opaque).takeUnretainedValue().shouldInterrupt ? 1 : 0
    }
}
