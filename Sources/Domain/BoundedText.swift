extension String {
    /// This text cut to at most `limit` UTF-8 bytes at a character boundary, marked with `…`
    /// when cut (the mark counted in the limit).
    public func bounded(toUTF8Bytes limit: Int) -> String {
        guard utf8.count > limit else { return self }
        var kept = ""
        var bytes = 0
        for character in self {
            let size = character.utf8.count
            guard bytes + size <= limit - 3 else { break }
            kept.append(character)
            bytes += size
        }
        return kept + "…"
    }
}
