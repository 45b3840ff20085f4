import Foundation
import Mustache
import Testing

@testable import Net

/// `PageEscaping` (issue #12): what the portal's `{{name}}` inserts is escaped as swift-mustache's
/// HTML content type escapes it, and also where that one misses a character.
@Suite struct PageEscapingTests {
    static let texts = [
        "", "plain", "<img src=x onerror=alert(1)>", "\"><script>alert(2)</script>", "Tom & Jerry's \"café\"", "&amp;",
        "日本語 <b>", "emoji 👩‍💻 < 🏳️‍🌈 >", "tab\tnew\nline", "'''", "ends with &",
    ]

    static func rendered(_ template: String, _ text: String) throws -> String {
        var library = MustacheLibrary()
        MustacheContentTypes.register(PageEscaping(), named: PageEscaping.name)
        try library.register(template, named: "t")
        return try #require(library.render(["x": text], withTemplate: "t"))
    }

    @Test func sameAsMustachesHTML() throws {
        for text in Self.texts {
            let ours = try Self.rendered("{{% CONTENT_TYPE: PORTAL_HTML}}{{x}}", text)
            #expect(ours == (try Self.rendered("{{x}}", text)), "\(text)")
            #expect(!ours.contains("<") && !ours.contains(">") && !ours.contains("\"") && !ours.contains("'"), "\(ours)")
        }
    }

    /// A combining mark after a quote makes one `Character` of the two, which swift-mustache's
    /// table does not hold: its output keeps the quote, which would end an attribute value.
    @Test func specialCharactersJoinedByCombiningMarks() throws {
        let text = "\"\u{301} onmouseover=alert(1) x=\"\u{301}<\u{301}"
        let ours = try Self.rendered("{{% CONTENT_TYPE: PORTAL_HTML}}<a title=\"{{x}}\">", text)
        #expect(ours == "<a title=\"&quot;\u{301} onmouseover=alert(1) x=&quot;\u{301}&lt;\u{301}\">")
        let theirs = try Self.rendered("<a title=\"{{x}}\">", text)
        #expect(theirs.unicodeScalars.filter { $0 == "\"" }.count == 4, "mustache's own keeps both: \(theirs)")
    }

    /// Every template either is drawn inside the layout (whose first token selects the escaping)
    /// or selects it itself (a partial: swift-mustache starts each partial with its own HTML type).
    @Test func everyTemplateSelectsIt() {
        for (name, text) in PageTemplates.all {
            #expect(
                text.hasPrefix("{{<layout}}") || text.hasPrefix("{{% CONTENT_TYPE: \(PageEscaping.name)}}"),
                "\(name) would be escaped by swift-mustache's own HTML type")
        }
    }
}
