/// RFC 8259's grammar, held to before a request body is decoded.
///
/// Foundation's `JSONDecoder` reads more than JSON: of a key given twice it keeps the first value
/// (the later ones not even type-checked), it takes a comma before `}` and a raw control
/// character in a string. A proxy or filter in front that keeps the last of two keys, or refuses
/// what is not JSON, would judge another request than NeoSC runs. So a body is checked first, and
/// only one that is JSON, with each object's keys distinct, reaches the decoder.
///
/// Keys are compared as the decoder compares them, unescaped: `"\u0061"` and `"a"` are one key.
enum StrictJSON {
    /// What is wrong with a body that is not strict JSON.
    enum Flaw: Error, Equatable {
        /// Not JSON at this byte: an unexpected or missing character, a bad escape or number, a
        /// raw control character or invalid UTF-8 in a string, or something after the value.
        case syntax(at: Int)
        /// The body ends before its value does (or holds only blanks).
        case endsEarly
        /// A comma with no value after it, before the `}` or `]` at this byte.
        case trailingComma(at: Int)
        /// One object names this key twice.
        case duplicateKey(String)
        /// More than `maximumDepth` objects and arrays open at once.
        case tooDeep
    }

    /// Objects and arrays open at once, the innermost counted even when empty; Foundation's own
    /// parsers stop at 512.
    static let maximumDepth = 512

    /// A number in a body whose value is an object, at any depth.
    struct Number: Hashable {
        /// Where it sits, as a 422 names a field: `minutes`, `settings.requests`,
        /// `allowed_roles[2]`; keys unescaped, as the decoder reads them.
        var field: String
        /// Where the number's text lies in the body.
        var text: Range<Int>
    }

    /// What makes `body` not strict JSON, if anything.
    static func flaw(in body: UnsafeRawBufferPointer) -> Flaw? {
        var numbers: WideNumbers? = nil
        do throws(Flaw) {
            try check(body, wideNumbers: &numbers)
            return nil
        } catch .syntax(let offset) where offset >= body.count {
            return .endsEarly
        } catch {
            return error
        }
    }

    /// The numbers of `body`'s object, at any depth and in the body's order, that an `Int` may
    /// not hold as they are written: with a fraction or an exponent, or of more than 18 digits
    /// (fewer always fit). Empty when the body is not strict JSON or not an object; nil when it
    /// holds more than `limit` of them (only those up to the limit have their field's path
    /// written out).
    static func wideNumbers(in body: UnsafeRawBufferPointer, limit: Int) -> [Number]? {
        var numbers: WideNumbers? = WideNumbers(limit: limit)
        do throws(Flaw) {
            try check(body, wideNumbers: &numbers)
            return numbers.flatMap { $0.tooMany ? nil : $0.found }
        } catch {
            return []
        }
    }

    /// Whether an `Int` may not hold the number written `text`.
    static func isWide(_ text: some Collection<UInt8>) -> Bool {
        let digits = text.drop { $0 == UInt8(ascii: "-") }
        return digits.count > 18 || digits.contains { !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// What `check` gathers of a body's wide numbers, when asked to.
    private struct WideNumbers {
        let limit: Int
        var found: [Number] = []
        var tooMany = false
        /// Per container open, the member or element being read.
        var path: [FieldStep] = []

        init(limit: Int) {
            self.limit = limit
        }

        mutating func add(_ text: Range<Int>) {
            guard found.count < limit else {
                tooMany = true
                return
            }
            found.append(Number(field: PortalJSON.field(path), text: text))
        }
    }

    /// Checks `body`, and when `wideNumbers` is not nil, gathers into it the wide numbers of a
    /// body whose value is an object.
    private static func check(_ body: UnsafeRawBufferPointer, wideNumbers: inout WideNumbers?) throws(Flaw) {
        var reader = Reader(body.bindMemory(to: UInt8.self))
        // Per container open, innermost last: nil for an array, the keys seen for an object.
        var open: [Set<String>?] = []
        nextValue: while true {
            reader.skipBlanks()
            // The end of the body (0 here) is no value's start either.
            switch reader.peek ?? 0 {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard open.count < maximumDepth else { throw .tooDeep }
                let isObject = reader.peek == UInt8(ascii: "{")
                reader.advance()
                reader.skipBlanks()
                if reader.peek == UInt8(ascii: isObject ? "}" : "]") {
                    reader.advance()
                } else if isObject {
                    let key = try reader.key()
                    wideNumbers?.path.append(.key(key))
                    open.append([key])
                    continue nextValue
                } else {
                    wideNumbers?.path.append(.index(0))
                    open.append(nil)
                    continue nextValue
                }
            case UInt8(ascii: "\""):
                _ = try reader.string(nil)
            case UInt8(ascii: "t"):
                try reader.literal("true")
            case UInt8(ascii: "f"):
                try reader.literal("false")
            case UInt8(ascii: "n"):
                try reader.literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = reader.offset
                try reader.number()
                if wideNumbers != nil, !open.isEmpty, open[0] != nil, isWide(reader.bytes[start..<reader.offset]) {
                    wideNumbers?.add(start..<reader.offset)
                }
            default:
                throw .syntax(at: reader.offset)
            }
            // A value has ended: it is followed by the next one, or closes its container.
            while true {
                reader.skipBlanks()
                guard let innermost = open.indices.last else {
                    guard reader.peek == nil else { throw .syntax(at: reader.offset) }
                    return
                }
                let inObject = open[innermost] != nil
                switch reader.peek {
                case UInt8(ascii: ","):
                    reader.advance()
                    reader.skipBlanks()
                    if reader.peek == UInt8(ascii: inObject ? "}" : "]") { throw .trailingComma(at: reader.offset) }
                    if inObject {
                        let key = try reader.key()
                        // Changed in place: the set is not copied per key.
                        guard open[innermost]!.insert(key).inserted else { throw .duplicateKey(key) }
                        wideNumbers?.path[innermost] = .key(key)
                    } else if case .index(let index) = wideNumbers?.path[innermost] {
                        wideNumbers?.path[innermost] = .index(index + 1)
                    }
                    continue nextValue
                case UInt8(ascii: "}") where inObject, UInt8(ascii: "]") where !inObject:
                    reader.advance()
                    open.removeLast()
                    wideNumbers?.path.removeLast()
                default:
                    throw .syntax(at: reader.offset)
                }
            }
        }
    }

    /// One step of a field's path: an object's member or an array's element; a coding key, so
    /// that a path is written as the decoder's are (`PortalJSON.field`).
    private enum FieldStep: CodingKey {
        case key(String)
        case index(Int)

        var stringValue: String {
            switch self {
            case .key(let key): key
            case .index(let index): String(index)
            }
        }

        var intValue: Int? {
            if case .index(let index) = self { index } else { nil }
        }

        init(stringValue: String) { self = .key(stringValue) }
        init(intValue: Int) { self = .index(intValue) }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        private(set) var offset = 0

        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        var peek: UInt8? {
            offset < bytes.count ? bytes[offset] : nil
        }

        mutating func advance() {
            offset += 1
        }

        mutating func skipBlanks() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                offset += 1
            }
        }

        /// An object's key with the colon after it, unescaped.
        mutating func key() throws(Flaw) -> String {
            guard peek == UInt8(ascii: "\"") else { throw .syntax(at: offset) }
            let start = offset
            let key: String
            if try string(nil) {
                // Read again, its escapes replaced by what they stand for.
                offset = start
                var scalars = String.UnicodeScalarView()
                _ = try string { scalars.append($0) }
                key = String(scalars)
            } else {
                // Checked UTF-8 between the quotes: taken as it is.
                key = String(decoding: bytes[(start + 1)..<(offset - 1)], as: UTF8.self)
            }
            skipBlanks()
            guard peek == UInt8(ascii: ":") else { throw .syntax(at: offset) }
            advance()
            return key
        }

        /// A string from its opening quote, each of its characters given to `take` (if any) as
        /// read; whether it held an escape.
        mutating func string(_ take: ((Unicode.Scalar) -> Void)?) throws(Flaw) -> Bool {
            advance()
            var escapes = false
            while let byte = peek {
                switch byte {
                case UInt8(ascii: "\""):
                    advance()
                    return escapes
                case UInt8(ascii: "\\"):
                    advance()
                    escapes = true
                    let scalar = try escaped()
                    take?(scalar)
                case 0x00..<0x20:
                    throw .syntax(at: offset)
                case 0x20..<0x80:
                    advance()
                    take?(Unicode.Scalar(byte))
                default:
                    let scalar = try encoded()
                    take?(scalar)
                }
            }
            throw .syntax(at: offset)
        }

        /// The character an escape stands for, from the byte after its backslash.
        private mutating func escaped() throws(Flaw) -> Unicode.Scalar {
            guard let byte = peek else { throw .syntax(at: offset) }
            advance()
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return Unicode.Scalar(byte)
            case UInt8(ascii: "b"): return "\u{08}"
            case UInt8(ascii: "f"): return "\u{0C}"
            case UInt8(ascii: "n"): return "\n"
            case UInt8(ascii: "r"): return "\r"
            case UInt8(ascii: "t"): return "\t"
            case UInt8(ascii: "u"):
                let start = offset - 2
                let unit = try hexUnit()
                switch unit {
                case 0xD800..<0xDC00:
                    // A high surrogate stands only with the low one escaped right after it.
                    guard peek == UInt8(ascii: "\\"), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "u") else {
                        throw .syntax(at: start)
                    }
                    offset += 2
                    let low = try hexUnit()
                    guard (0xDC00..<0xE000).contains(low) else { throw .syntax(at: start) }
                    return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!
                case 0xDC00..<0xE000:
                    throw .syntax(at: start)
                default:
                    return Unicode.Scalar(unit)!
                }
            default:
                throw .syntax(at: offset - 1)
            }
        }

        private mutating func hexUnit() throws(Flaw) -> UInt32 {
            var unit: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = peek, let digit = Self.hexDigit(byte) else { throw .syntax(at: offset) }
                unit = unit << 4 | digit
                advance()
            }
            return unit
        }

        private static func hexDigit(_ byte: UInt8) -> UInt32? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
            default: nil
            }
        }

        /// One character of two to four bytes of UTF-8, well formed (no overlong form, no
        /// surrogate, nothing past U+10FFFF).
        private mutating func encoded() throws(Flaw) -> Unicode.Scalar {
            var parser = Unicode.UTF8.ForwardParser()
            var iterator = bytes[offset...].makeIterator()
            guard case .valid(let encoded) = parser.parseScalar(from: &iterator) else { throw .syntax(at: offset) }
            offset += encoded.count
            return Unicode.UTF8.decode(encoded)
        }

        mutating func literal(_ word: StaticString) throws(Flaw) {
            let start = offset
            for index in 0..<word.utf8CodeUnitCount {
                guard peek == word.utf8Start[index] else { throw .syntax(at: start) }
                advance()
            }
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() throws(Flaw) {
            if peek == UInt8(ascii: "-") { advance() }
            if peek == UInt8(ascii: "0") {
                advance()
            } else {
                try digits()
            }
            if peek == UInt8(ascii: ".") {
                advance()
                try digits()
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                advance()
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { advance() }
                try digits()
            }
        }

        /// One or more decimal digits.
        private mutating func digits() throws(Flaw) {
            guard let first = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw .syntax(at: offset) }
            while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                advance()
            }
        }
    }
}
