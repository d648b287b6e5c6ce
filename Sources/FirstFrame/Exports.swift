// `import FirstFrame` is the one import for player, recorder and telemetry code: the opener, and the layers it
// stands on (the clock and deadlines, the FFmpeg types, the network trace and DNS cache).
@_exported import FirstFrameCore
@_exported import FirstFrameFFmpeg
@_exported import FirstFrameNetwork
