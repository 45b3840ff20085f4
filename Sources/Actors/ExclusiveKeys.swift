/// Keys of work under way in this process (a demo's clean-up), so the same work is never run
/// twice at once here; the store's claim does the same across processes.
public actor ExclusiveKeys {
    private var held: Set<String> = []

    public init() {}

    /// Takes `key`; false when it is already held.
    public func take(_ key: String) -> Bool { held.insert(key).inserted }

    public func release(_ key: String) { held.remove(key) }

    /// Whether `key` is held.
    public func holds(_ key: String) -> Bool { held.contains(key) }
}
