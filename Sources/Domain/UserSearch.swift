/// The text an administrator searches accounts by (e-mail or name contains it, ignoring case), as
/// both surfaces accept it: nil when empty; refused (422) when longer than `maximumScalars`
/// Unicode scalars, which bounds what the stores build from it (a regular expression on
/// MongoDB, a `LIKE` pattern on SQLite, each at most two characters per scalar), or when it holds
/// a control character (MongoDB refuses a NUL in a pattern, SQLite would cut the pattern there).
public enum UserSearch {
    public static let maximumScalars = 254

    public static func text(_ raw: String?) throws(DomainError) -> String? {
        guard let raw, !raw.isEmpty else { return nil }
        guard raw.unicodeScalars.count <= maximumScalars else {
            throw .invalid("Query parameter 'search' is too long (at most \(maximumScalars) characters)")
        }
        guard !raw.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid("Query parameter 'search' must not contain control characters")
        }
        return raw
    }
}
