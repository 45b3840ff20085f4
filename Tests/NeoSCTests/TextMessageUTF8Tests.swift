import Testing

@testable import Net

/// `TextMessageUTF8`: a stream's text messages judged frame by frame (RFC 6455 §8.1).
struct TextMessageUTF8Tests {
    /// Feeds `frames` as one message (text unless `binary`); the index of the first refused, or nil.
    private static func firstRefused(_ frames: [[UInt8]], binary: Bool = false, in check: inout TextMessageUTF8) -> Int? {
        for (index, frame) in frames.enumerated() {
            let accepted = check.accepts(
                frame, isContinuation: index > 0, isText: !binary, isFinal: index == frames.count - 1)
            if !accepted { return index }
        }
        return nil
    }

    private static func firstRefused(_ frames: [[UInt8]], binary: Bool = false) -> Int? {
        var check = TextMessageUTF8()
        return firstRefused(frames, binary: binary, in: &check)
    }

    @Test("UTF-8 passes however its characters are cut between frames")
    func validTextPassesWhereverItIsCut() {
        let text = Array("aé€𝄞z".utf8)  // one, two, three and four bytes a character
        for first in 0...text.count {
            for second in first...text.count {
                let frames = [Array(text[..<first]), Array(text[first..<second]), Array(text[second...])]
                #expect(Self.firstRefused(frames) == nil, "cut at \(first) and \(second)")
            }
        }
        #expect(Self.firstRefused([[]]) == nil, "an empty message")
    }

    @Test("what cannot be UTF-8 is refused at the frame that shows it")
    func invalidTextIsRefusedAtItsFrame() {
        let cases: [(name: String, frames: [[UInt8]], refused: Int)] = [
            ("a stray continuation byte", [Array("ok".utf8), [0x80]], 1),
            ("a byte no character has", [[0xFF]], 0),
            ("an overlong form, cut after its lead", [[0x61, 0xC0], [0x80]], 0),
            ("an overlong three-byte form", [[0xE0, 0x80], [0x80]], 0),
            ("a surrogate, cut after two bytes", [[0xED, 0xA0], [0x80]], 0),
            ("past U+10FFFF", [[0xF4, 0x90], [0x80, 0x80]], 0),
            ("a lead byte past F4", [[0xF5], [0x80, 0x80, 0x80]], 0),
            ("a character the message ends in the middle of", [[0xE2, 0x82]], 0),
            ("a character cut short by the next frame's ASCII", [[0xE2, 0x82], [0x41]], 1),
            ("a character cut short within a frame", [[0xE2, 0x41]], 0),
        ]
        for (name, frames, refused) in cases {
            #expect(Self.firstRefused(frames) == refused, "\(name)")
        }
        // A character still waiting is not refused while the message goes on.
        #expect(Self.firstRefused([[0xE0], [0xA0], [0x80, 0x61]]) == nil, "E0 A0 80 cut after each byte")
        #expect(Self.firstRefused([[0xF0], [0x90, 0x80], [0x80]]) == nil, "F0 90 80 80")
    }

    @Test("frame by frame, a message passes exactly when the whole of it is UTF-8")
    func framesAgreeWithTheWholeMessage() {
        // Messages built from pieces of UTF-8 and stray bytes, cut at random: a fixed seed, so a
        // failure is repeatable.
        var random = SplitMix(seed: 0x5EED_0F_1007)
        let pieces: [[UInt8]] = [
            Array("a".utf8), Array("é".utf8), Array("€".utf8), Array("𝄞".utf8), [0x80], [0xC0], [0xE0, 0x80], [0xED, 0xA0, 0x80],
            [0xF4, 0x90, 0x80, 0x80], [0xF5], [0xFF], [0xE2, 0x82], [0xF0, 0x9D],
        ]
        for _ in 0..<5_000 {
            var message: [UInt8] = []
            for _ in 0..<Int(random.next() % 6) {
                // Mostly valid pieces, now and then a broken one.
                let index = random.next() % 8 == 0 ? Int(random.next() % UInt64(pieces.count)) : Int(random.next() % 4)
                message += pieces[index]
            }
            var cuts = (0..<Int(random.next() % 4)).map { _ in Int(random.next() % UInt64(message.count + 1)) }.sorted()
            cuts = [0] + cuts + [message.count]
            let frames = zip(cuts, cuts.dropFirst()).map { Array(message[$0..<$1]) }
            let whole = String(validating: message, as: UTF8.self) != nil
            #expect((Self.firstRefused(frames) == nil) == whole, "\(message) cut at \(cuts)")
        }
    }

    /// A small deterministic generator (SplitMix64), so the property test repeats itself.
    private struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("binary messages pass unread; each message starts afresh")
    func binaryPassesAndMessagesStartAfresh() {
        var check = TextMessageUTF8()
        #expect(Self.firstRefused([[0xFF, 0xC0], [0x80]], binary: true, in: &check) == nil)
        #expect(!check.isWithinText)
        // A text message's first frame, not final: the message is text until its last frame.
        let opened = check.accepts([0xE2], isContinuation: false, isText: true, isFinal: false)
        #expect(opened && check.isWithinText)
        let ended = check.accepts([0x82, 0xAC], isContinuation: true, isText: false, isFinal: true)
        #expect(ended && !check.isWithinText)
        #expect(Self.firstRefused([Array("next".utf8)], in: &check) == nil)
    }
}
