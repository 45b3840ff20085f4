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
        tableRows = rows.map {
            "<tr><td>\($0.label)</td><td class=\"number\">\($0.signIns)</td><td class=\"number\">\($0.launches)</td></tr>"
        }.joined()
    }

    static func draw(title: String, rows: [Row]) -> String {
        let (width, height, left, bottom, top) = (640.0, 200.0, 36.0, 28.0, 12.0)
        let plotHeight = height - bottom - top
        let highest = max(1, rows.map { max($0.signIns, $0.launches) }.max() ?? 1)
        let step = (width - left - 8) / Double(max(rows.count, 1))
        let bar = max(2, step * 0.36)
        func y(_ value: Int) -> Double { top + plotHeight - plotHeight * Double(value) / Double(highest) }
        var parts: [String] = [
            "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(title)\" preserveAspectRatio=\"xMidYMid meet\">",
            "<line class=\"axis\" x1=\"\(number(left))\" y1=\"\(number(top + plotHeight))\" x2=\"\(number(width - 4))\" y2=\"\(number(top + plotHeight))\"/>",
            "<text class=\"tick\" x=\"\(number(left - 6))\" y=\"\(number(top + 4))\" text-anchor=\"end\">\(highest)</text>",
            "<text class=\"tick\" x=\"\(number(left - 6))\" y=\"\(number(top + plotHeight))\" text-anchor=\"end\">0</text>",
        ]
        let labelEvery = max(1, rows.count / 6)
        for (index, row) in rows.enumerated() {
            let x = left + step * Double(index) + (step - 2 * bar) / 2
            parts.append(
                "<rect class=\"signins\" x=\"\(number(x))\" y=\"\(number(y(row.signIns)))\" width=\"\(number(bar))\" height=\"\(number(top + plotHeight - y(row.signIns)))\"><title>\(row.label): \(row.signIns) sign-ins</title></rect>"
            )
            parts.append(
                "<rect class=\"launches\" x=\"\(number(x + bar))\" y=\"\(number(y(row.launches)))\" width=\"\(number(bar))\" height=\"\(number(top + plotHeight - y(row.launches)))\"><title>\(row.label): \(row.launches) launches</title></rect>"
            )
            if index % labelEvery == 0 {
                parts.append(
                    "<text class=\"tick\" x=\"\(number(x + bar))\" y=\"\(number(height - 8))\" text-anchor=\"middle\">\(row.label)</text>")
            }
        }
        parts.append("</svg>")
        return parts.joined()
    }

    /// `value` to one decimal, "12.5" (by integer arithmetic: `String(format:)` was most of the
    /// chart's time).
    static func number(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        let whole = String(abs(tenths) / 10) + "." + String(abs(tenths) % 10)
        return tenths < 0 ? "-" + whole : whole
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
