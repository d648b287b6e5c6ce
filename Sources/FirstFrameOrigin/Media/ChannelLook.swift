import Foundation

/// The picture and tone of one synthesised program: what tells one named channel from another.
///
/// Look 0 is the origin's original channel (the one `stream` plays) and renders exactly as it always has:
/// every offset below is zero and the tone is 440 Hz. Other looks shift the stripes, the grey levels, the
/// bouncing box and the chroma phase (the hue), and play another note, so that two looks differ in every
/// frame and in every audio packet.
package struct ChannelLook: Sendable, Hashable {
    /// Which look, 0 for the original one.
    package let index: Int

    package init(index: Int) {
        self.index = max(0, index)
    }

    /// The original channel's look.
    package static let original = ChannelLook(index: 0)

    /// Pixels the diagonal stripes are shifted by.
    var stripeOffset: Int { index * 37 }
    /// Steps the grey levels of the stripes are rotated by.
    var levelRotation: Int { index }
    /// Frames the bouncing box is ahead by.
    var boxOffset: Int { index * 53 }
    /// Radians added to the chroma phase: the golden angle spreads neighbouring looks far apart in hue.
    var hue: Double { Double(index) * 2.399963 }
    /// The tone, in hertz: 440 Hz for look 0, then a circle of fifths folded into two octaves, so that every
    /// look up to 24 plays its own note and the pip (twice the tone) stays well below Nyquist at 22.05 kHz.
    var toneHertz: Double { 440 * pow(2, Double(index * 7 % 24) / 12) }
}
