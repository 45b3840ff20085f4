import Foundation

/// Durations as operators write them in configuration: `90s`, `30m`, `8h`, `2d`, or plain seconds.
public enum TimeSpan {
    /// The number of seconds `text` means, or nil when it is not a positive whole duration.
    public static func seconds(parsing text: String) -> TimeInterval? {
        let trimmed = Substring(text.trimmingCharacters(in: .whitespaces).lowercased())
        guard let unit = trimmed.last else { return nil }
        let digits: Substring
        let multiplier: Double
        switch unit {
        case "s": (digits, multiplier) = (trimmed.dropLast(), 1)
        case "m": (digits, multiplier) = (trimmed.dropLast(), 60)
        case "h": (digits, multiplier) = (trimmed.dropLast(), 3_600)
        case "d": (digits, multiplier) = (trimmed.dropLast(), 86_400)
        default: (digits, multiplier) = (trimmed, 1)
        }
        guard (1...9).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = Double(digits), value > 0
        else { return nil }
        return value * multiplier
    }
}
