// `import FirstFrame` brings the opener, the kept stream, the recorder, reports and telemetry, and the clock and
// deadline types of the core layer. The FFmpeg types (packets, frames, decoders, the stock baseline) and the network
// layer (the DNS cache, resolvers, the raw trace) are modules of their own, imported where used, as swift-nio keeps
// NIOCore and NIOPosix apart: `import FirstFrameFFmpeg`, `import FirstFrameNetwork`.
@_exported import FirstFrameCore
