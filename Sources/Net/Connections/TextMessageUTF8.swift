/// Whether the text messages a WebSocket peer sends are UTF-8 (RFC 6455 §5.6, §8.1), judged frame
/// by frame: the relay passes frames on as they come, so a message is never whole in one place.
///
/// A character may be split between two frames of a message; its first bytes wait for the next
/// frame, and a message that ends with some still waiting is not UTF-8. A frame is refused as soon
/// as what it holds cannot begin valid UTF-8, not only at the message's end. Each piece is
/// judged by the standard library's validation (`String(validating:as:)`).
struct TextMessageUTF8 {
    /// Whether the message under way (one whose last frame has not come) is text.
    private var inText = false
    /// The first bytes of a character the previous frame ended in the middle of (at most 3).
    private var pending: [UInt8] = []

    /// Whether a text message is under way: its next frame is read.
    var isWithinText: Bool { inText }

    /// Takes the next data frame of a message (control frames are not messages' parts): whether
    /// the stream is still valid. `isContinuation` for the frames after a message's first;
    /// `isText` says what a message's first frame starts.
    mutating func accepts(_ payload: some Collection<UInt8>, isContinuation: Bool, isText: Bool, isFinal: Bool) -> Bool {
        if !isContinuation {
            inText = isText
            pending = []
        }
        guard inText else { return true }
        var bytes = pending
        bytes.append(contentsOf: payload)
        let cut = isFinal ? bytes.count : Self.completeLength(of: bytes)
        guard String(validating: bytes[..<cut], as: UTF8.self) != nil else { return false }
        pending = Array(bytes[cut...])
        if isFinal { inText = false }
        return Self.canBegin(pending)
    }

    /// How many of `bytes` end at a character's end: all, but for a last character whose lead
    /// byte, among the last three, announces more bytes than follow it.
    private static func completeLength(of bytes: [UInt8]) -> Int {
        guard !bytes.isEmpty else { return 0 }
        for back in 1...min(3, bytes.count) {
            let byte = bytes[bytes.count - back]
            guard byte & 0xC0 == 0x80 else {
                // The last lead byte (or an ASCII byte): the length it announces.
                let announced = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
                return announced > back ? bytes.count - back : bytes.count
            }
        }
        return bytes.count
    }

    /// Whether a character's first bytes, held for the next frame, can still become one (a lead
    /// byte no character has, or a second byte that makes an overlong form, a surrogate or a code
    /// point past U+10FFFF, cannot).
    private static func canBegin(_ start: [UInt8]) -> Bool {
        guard let lead = start.first else { return true }
        // The same bytes with the smallest continuation bytes that keep them legal after them.
        var probe = start
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
        while probe.count < length { probe.append(0x80) }
        if String(validating: probe, as: UTF8.self) != nil { return true }
        // A second byte that is only legal above 0x80 (E0 needs A0.., F0 needs 90..).
        if start.count == 1 {
            probe[1] = 0xBF
            return String(validating: probe, as: UTF8.self) != nil
        }
        return false
    }
}
