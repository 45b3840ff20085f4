import Domain
import Foundation
import Testing

@testable import Net

/// The grammar a request body is held to before it is decoded (`StrictJSON`): RFC 8259, each
/// object's keys distinct once unescaped.
@Suite struct StrictJSONTests {
    static func flaw(_ text: String) -> StrictJSON.Flaw? {
        flaw(Array(text.utf8))
    }

    static func flaw(_ bytes: [UInt8]) -> StrictJSON.Flaw? {
        bytes.withUnsafeBytes(StrictJSON.flaw(in:))
    }

    @Test(arguments: [
        #"{}"#, #"[]"#, #" { "a" : 1 , "b" : [ true , false , null ] } "#, #"{"a":{"a":{"a":1}},"b":{"a":2}}"#,
        #"[{"a":1},{"a":1}]"#, #""text""#, #"0"#, #"-0"#, #"-12.5e+3"#, #"1E-2"#,
        #"{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}"#, "{\"é\":\"日本\",\"e\u{301}x\":\"😀\"}", "\t\r\n{}\n",
        #"{"a":1,"A":2}"#, #"{"":1,"\u0000":2}"#,
    ])
    func jsonPasses(_ text: String) throws {
        #expect(Self.flaw(text) == nil)
        // What passes, Foundation reads too.
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil)
    }

    @Test func keysNamedTwiceAreRefused() {
        #expect(Self.flaw(#"{"role":"user","role":"admin"}"#) == .duplicateKey("role"))
        #expect(Self.flaw(#"{"role":"user","\u0072ole":"admin"}"#) == .duplicateKey("role"), "the same key escaped")
        #expect(Self.flaw(#"{"a":{"b":1,"c":2,"b":3}}"#) == .duplicateKey("b"), "in a nested object")
        #expect(Self.flaw(#"[{"a":1},{"a":1,"a":2}]"#) == .duplicateKey("a"), "in an object in an array")
        #expect(Self.flaw(#"{"\uD83D\uDE00":1,"😀":2}"#) == .duplicateKey("😀"), "a surrogate pair and its UTF-8")
        // Swift compares strings by canonical equivalence, as the decoder's keyed container
        // does: a precomposed é and e with its accent are one key to it, so to the check too.
        #expect(Self.flaw("{\"\u{e9}\":1,\"e\u{301}\":2}") == .duplicateKey("\u{e9}"))
    }

    @Test func aLongKeyNamedTwiceIsQuotedCut() throws {
        let key = String(repeating: "é", count: 500)
        guard case .malformed(let detail) = DomainError(StrictJSON.Flaw.duplicateKey(key)) else {
            Issue.record("not a 400")
            return
        }
        #expect(detail.utf8.count < 250 && detail.contains("éé…' twice"), "\(detail)")
    }

    @Test func aCommaWithNothingAfterItIsRefused() {
        #expect(Self.flaw(#"{"a":1,}"#) == .trailingComma(at: 7))
        #expect(Self.flaw(#"{"a":1 , }"#) == .trailingComma(at: 9))
        #expect(Self.flaw(#"{"a":[1,2,]}"#) == .trailingComma(at: 10))
    }

    @Test(arguments: [
        #""#, " ", #"{"#, #"{"a"}"#, #"{"a":}"#, #"{a:1}"#, #"{'a':1}"#, #"{"a":1}}"#, #"{"a":1} x"#, #"{"a":1}{}"#,
        #"[1,,2]"#, #"[,]"#, #"{,}"#, #"{"a":01}"#, #"{"a":+1}"#, #"{"a":.5}"#, #"{"a":1.}"#, #"{"a":1e}"#, #"{"a":-}"#,
        #"{"a":0x10}"#, #"{"a":NaN}"#, #"{"a":Infinity}"#, #"{"a":tru}"#, #"{"a":nul}"#, #"{"a":True}"#,
        "{\"a\":\"x\ty\"}", "{\"a\":\"x\ny\"}", "{\"a\":\"x\u{0}y\"}", #"{"a":"\x"}"#, #"{"a":"\u12"}"#, #"{"a":"\uD800"}"#,
        #"{"a":"\uDC00"}"#, #"{"a":"\uD800\u0041"}"#, #"{"a":"unterminated}"#, "\u{FEFF}{}", #"{"a":1}/*c*/"#,
    ])
    func notJSONIsRefused(_ text: String) {
        switch Self.flaw(text) {
        case .syntax(let offset): #expect(offset < text.utf8.count, "an offset within the body")
        case .endsEarly: break
        default: Issue.record("\(text.debugDescription): \(String(describing: Self.flaw(text)))")
        }
    }

    @Test func theFlawIsPlaced() {
        #expect(Self.flaw(#"{"a":1}}"#) == .syntax(at: 7))
        #expect(Self.flaw(#"{"a":tru}"#) == .syntax(at: 5))
        #expect(Self.flaw(#"{"a":"x\q"}"#) == .syntax(at: 8))
        for cut in ["", " ", "{", #"{"a""#, #"{"a":"#, #"{"a":1"#, #"[1,"#, #"{"a":"x"#, #"{"a":"\u00"#, "-", "1e"] {
            #expect(Self.flaw(cut) == .endsEarly, "\(cut.debugDescription)")
        }
    }

    @Test func utf8MustBeWellFormed() {
        let quote = Array(#"{"a":""#.utf8)
        let end = Array(#""}"#.utf8)
        #expect(Self.flaw(quote + [0xC3, 0xA9] + end) == nil, "é")
        for bad: [UInt8] in [[0xBA], [0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF]] {
            #expect(Self.flaw(quote + bad + end) == .syntax(at: quote.count), "\(bad)")
        }
        #expect(Self.flaw(Array(#"{"#.utf8) + [0xC3, 0xA9] + Array(#":1}"#.utf8)) == .syntax(at: 1), "outside a string")
    }

    @Test func aNumberBeyondADoubleIsJSON() {
        // Foundation's decoder then refuses it: no Swift type holds it. The field is named (422,
        // HardeningTests), found by where its text lies.
        #expect(Self.flaw(#"{"minutes":1e400}"#) == nil)
        #expect(Self.numbers(#"{"minutes":1e400}"#) == [.init(field: "minutes", text: 11..<16)])
    }

    @Test("an object's wide numbers at any depth, each with its field's path (keys unescaped) and where its text lies; none outside an object")
    func wideNumbersAndTheirFields() {
        let body = #"{ "a" : -1.5e3 , "n":{"x":2.0,"y":[3, "s", 4e1, 5]}, "b":0,"s":"4.5","l":[5.5,[6E0]], "\u0061b":{"c":[{}, {"d":7.25}]} }"#
        let numbers = Self.numbers(body)
        #expect(numbers?.map(\.field) == ["a", "n.x", "n.y[2]", "l[0]", "l[1][0]", "ab.c[1].d"])
        let bytes = Array(body.utf8)
        #expect(numbers?.map { String(decoding: bytes[$0.text], as: UTF8.self) } == ["-1.5e3", "2.0", "4e1", "5.5", "6E0", "7.25"])
        for other in ["[1.5,2.5]", "7.5", #"{"a":1.5,"a":2.5}"#, #"{"a":1.5,}"#, #"{"a":01.5}"#, ""] {
            #expect(Self.numbers(other)?.isEmpty == true, "\(other)")
        }
        // Keys read after containers closed, empty ones among them.
        #expect(Self.numbers(#"{"first":1.5,"o":{"k":{}},"e":[],"after":2.5}"#)?.map(\.field) == ["first", "after"])
        // Plain digits up to 18 always fit an Int; 19 may not.
        #expect(Self.numbers(#"{"a":-999999999999999999,"b":1000000000000000000}"#)?.map(\.field) == ["b"])
    }

    @Test("past the limit of wide numbers, nil; plain ones do not count")
    func wideNumbersAreBounded() {
        let wide = (0..<3).map { #""w\#($0)":0.5"# } + (0..<100).map { #""p\#($0)":7"# }
        let body = "{" + wide.joined(separator: ",") + "}"
        #expect(Array(body.utf8).withUnsafeBytes { StrictJSON.wideNumbers(in: $0, limit: 3) }?.count == 3)
        #expect(Array(body.utf8).withUnsafeBytes { StrictJSON.wideNumbers(in: $0, limit: 2) } == nil)
        // Still the strict check: a flaw after the limit is passed makes the body no JSON, so no numbers.
        let broken = "{" + wide.joined(separator: ",") + ","
        #expect(Array(broken.utf8).withUnsafeBytes { StrictJSON.wideNumbers(in: $0, limit: 2) }?.isEmpty == true)
    }

    static func numbers(_ text: String) -> [StrictJSON.Number]? {
        Array(text.utf8).withUnsafeBytes { StrictJSON.wideNumbers(in: $0, limit: 64) }
    }

    @Test func nestingIsBounded() {
        let deepest = String(repeating: "[", count: StrictJSON.maximumDepth) + String(repeating: "]", count: StrictJSON.maximumDepth)
        #expect(Self.flaw(deepest) == nil)
        #expect(Self.flaw("[" + deepest + "]") == .tooDeep)
        // A million levels is refused at the bound, not on a stack that deep.
        #expect(Self.flaw(String(repeating: #"{"a":"#, count: 1_000_000)) == .tooDeep)
    }

    @Test func manyKeysAreReadInLinearTime() {
        // 100,000 keys: a set copied per key would take minutes.
        let body = "{" + (0..<100_000).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + "}"
        #expect(Self.flaw(body) == nil)
    }
}
