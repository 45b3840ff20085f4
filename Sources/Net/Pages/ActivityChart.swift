import Foundation
import Mustache
import Services

/// The dashboard's chart: sign-ins and launches per bucket as grouped bars, drawn here as inline
/// SVG (no chart library, no script). Everything in it is NeoSC's own text (numbers and times), so
/// the template may insert it unescaped; colours come from the stylesheet (classes, no inline
/// style), and the numbers are also in a table for screen readers ("Show data").
struct ActivityChart {
    struct Row {
        let label: String
        let signIns: Int
        let launches: Int
    }

    let title: String
    let svg: String
    /// The same numbers as table rows for "Show data" (written here, like the SVG: they are a
    /// chart's 31 rows of NeoSC's own labels and numbers, too many lookups for the template).
    let tableRows: String

    init(title: String, series: Activity.Series, label: (Date) -> String) {
        self.title = title
        let rows = series.starts.indices.map {
            Row(label: label(series.starts[$0]), signIns: series.signIns[$0], launches: series.launches[$0])
        }
        svg = Self.draw(title: title, rows: rows)
        var table = MarkupBytes(capacity: rows.count * 80)
        for row in rows {
            table.markup("<tr><td>")
            table.text(row.label)
            table.markup("</td><td class=\"number\">")
            table.number(row.signIns)
            table.markup("</td><td class=\"number\">")
            table.number(row.launches)
            table.markup("</td></tr>")
        }
        tableRows = table.string
    }

    static func draw(title: String, rows: [Row]) -> String {
        let (width, height, left, bottom, top) = (640.0, 200.0, 36.0, 28.0, 12.0)
        let plotHeight = height - bottom - top
        let highest = max(1, rows.map { max($0.signIns, $0.launches) }.max() ?? 1)
        let step = (width - left - 8) / Double(max(rows.count, 1))
        let bar = max(2, step * 0.36)
        func y(_ value: Int) -> Double { top + plotHeight - plotHeight * Double(value) / Double(highest) }
        var svg = MarkupBytes(capacity: 400 + rows.count * 340)
        svg.markup("<svg class=\"chart\" viewBox=\"0 0 ")
        svg.number(Int(width))
        svg.markup(" ")
        svg.number(Int(height))
        svg.markup("\" role=\"img\" aria-label=\"")
        svg.text(title)
        svg.markup("\" preserveAspectRatio=\"xMidYMid meet\"><line class=\"axis\" x1=\"")
        svg.tenths(left)
        svg.markup("\" y1=\"")
        svg.tenths(top + plotHeight)
        svg.markup("\" x2=\"")
        svg.tenths(width - 4)
        svg.markup("\" y2=\"")
        svg.tenths(top + plotHeight)
        svg.markup("\"/><text class=\"tick\" x=\"")
        svg.tenths(left - 6)
        svg.markup("\" y=\"")
        svg.tenths(top + 4)
        svg.markup("\" text-anchor=\"end\">")
        svg.number(highest)
        svg.markup("</text><text class=\"tick\" x=\"")
        svg.tenths(left - 6)
        svg.markup("\" y=\"")
        svg.tenths(top + plotHeight)
        svg.markup("\" text-anchor=\"end\">0</text>")
        func rect(_ kind: StaticString, at x: Double, value: Int, label: String, noun: StaticString) {
            svg.markup("<rect class=\"")
            svg.markup(kind)
            svg.markup("\" x=\"")
            svg.tenths(x)
            svg.markup("\" y=\"")
            svg.tenths(y(value))
            svg.markup("\" width=\"")
            svg.tenths(bar)
            svg.markup("\" height=\"")
            svg.tenths(top + plotHeight - y(value))
            svg.markup("\"><title>")
            svg.text(label)
            svg.markup(": ")
            svg.number(value)
            svg.markup(noun)
            svg.markup("</title></rect>")
        }
        let labelEvery = max(1, rows.count / 6)
        for (index, row) in rows.enumerated() {
            let x = left + step * Double(index) + (step - 2 * bar) / 2
            rect("signins", at: x, value: row.signIns, label: row.label, noun: " sign-ins")
            rect("launches", at: x + bar, value: row.launches, label: row.label, noun: " launches")
            if index % labelEvery == 0 {
                svg.markup("<text class=\"tick\" x=\"")
                svg.tenths(x + bar)
                svg.markup("\" y=\"")
                svg.tenths(height - 8)
                svg.markup("\" text-anchor=\"middle\">")
                svg.text(row.label)
                svg.markup("</text>")
            }
        }
        svg.markup("</svg>")
        return svg.string
    }

    /// `value` to one decimal, "12.5" (by integer arithmetic: `String(format:)` was most of the
    /// chart's time).
    static func number(_ value: Double) -> String {
        var text = MarkupBytes(capacity: 8)
        text.tenths(value)
        return text.string
    }
}

extension ActivityChart: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "title": title
        case "svg": svg
        case "tableRows": tableRows
        default: nil
        }
    }
}
