import Domain
import Foundation

/// A request body whose keys are all known: one it does not name is a 422, not dropped. A key
/// misspelt in a policy (`scopes`, `settings.apply_to`) would otherwise leave the policy covering
/// everyone, or a check undone, with a 201 for an answer.
protocol ClosedJSONObject: Decodable {
    /// The keys the body's object may have.
    static var fields: Set<String> { get }
    /// The keys of the objects some of its fields hold, by field (`settings`: the settings' own);
    /// a field holding anything but an object is left to the decoder.
    static var nestedFields: [String: Set<String>] { get }
}

extension ClosedJSONObject {
    static var nestedFields: [String: Set<String>] { [:] }

    /// The first key, by name, that the body in `data` has and this type does not know: `name`,
    /// or `settings.name` in a nested object; nil when there is none, or `data` is no object.
    /// Read by a decoder that never converts a number (`JSONSerialization` gives up on `1e400`
    /// anywhere, which let every key through), keys alone.
    static func strayField(in data: Data) -> String? {
        guard let object = try? JSONDecoder().decode([String: KeysOf].self, from: data) else { return nil }
        if let stray = object.keys.filter({ !fields.contains($0) }).min() { return stray }
        for (field, known) in nestedFields.sorted(by: { $0.key < $1.key }) {
            guard let nested = object[field]?.keys else { continue }
            if let stray = nested.filter({ !known.contains($0) }).min() { return "\(field).\(stray)" }
        }
        return nil
    }
}

/// A JSON value's keys when it is an object (nil otherwise), read without reading its values.
private struct KeysOf: Decodable {
    let keys: [String]?

    init(from decoder: any Decoder) throws {
        keys = (try? decoder.container(keyedBy: AnyKey.self))?.allKeys.map(\.stringValue)
    }

    private struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
