/// Values that never change once made (a sealed audit entry's encoding), kept for the keys asked
/// for most recently: at most `capacity` of them, so a hot set stays while a long walk through
/// old keys passes through.
///
/// Two generations stand in for a least-recently-used list: a key found in the older one moves to
/// the newer, and when the newer is full the older is dropped whole and the newer takes its
/// place. Every lookup and every keep costs a dictionary operation, never a scan.
public actor UnchangingValues<Key: Hashable & Sendable, Value: Sendable> {
    private var newer: [Key: Value] = [:]
    private var older: [Key: Value] = [:]
    /// Per generation: the two together hold at most twice this.
    private let generationSize: Int

    /// - Parameter capacity: the most values kept at once (at least 2).
    public init(capacity: Int) {
        precondition(capacity >= 2)
        generationSize = capacity / 2
    }

    /// The value kept for each of `keys`, in their order: nil for a key with none.
    public func values(for keys: [Key]) -> [Value?] {
        keys.map { key in
            if let value = newer[key] { return value }
            guard let value = older.removeValue(forKey: key) else { return nil }
            add(key, value)
            return value
        }
    }

    /// Keeps each value for its key.
    public func keep(_ values: [Key: Value]) {
        for (key, value) in values where newer[key] == nil {
            older.removeValue(forKey: key)
            add(key, value)
        }
    }

    public var count: Int { newer.count + older.count }

    private func add(_ key: Key, _ value: Value) {
        if newer.count >= generationSize {
            older = newer
            newer = [:]
            newer.reserveCapacity(generationSize)
        }
        newer[key] = value
    }
}
