import CMongoC
import Foundation

/// A BSON value, as NeoSC stores them. Built into and read out of `bson_t` only through
/// libbson's own append and iterate functions.
enum BSON: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    /// BSON dates hold milliseconds since the epoch.
    case date(Date)
    case null
    case document(BSONDocument)
    case array([BSON])

    static func int(_ value: Int) -> BSON { .int(Int64(value)) }
    static func optional(_ value: String?) -> BSON { value.map { .string($0) } ?? .null }
    static func optional(_ value: Date?) -> BSON { value.map { .date($0) } ?? .null }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    var date: Date? { if case .date(let value) = self { value } else { nil } }
    var document: BSONDocument? { if case .document(let value) = self { value } else { nil } }
    var array: [BSON]? { if case .array(let value) = self { value } else { nil } }
    var int: Int? {
        switch self {
        case .int(let value): Int(value)
        case .double(let value) where value == value.rounded() && abs(value) < 9e15: Int(value)
        default: nil
        }
    }
}

/// An ordered BSON document.
struct BSONDocument: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    struct Field: Sendable, Equatable {
        var key: String
        var value: BSON
    }

    var fields: [Field]

    init(_ fields: [Field] = []) { self.fields = fields }

    init(dictionaryLiteral elements: (String, BSON)...) {
        fields = elements.map { Field(key: $0.0, value: $0.1) }
    }

    subscript(key: String) -> BSON? {
        get { fields.first { $0.key == key }?.value }
        set {
            if let index = fields.firstIndex(where: { $0.key == key }) {
                if let newValue { fields[index].value = newValue } else { fields.remove(at: index) }
            } else if let newValue {
                fields.append(Field(key: key, value: newValue))
            }
        }
    }

    /// Runs `body` with this document as a `bson_t`, destroyed afterwards.
    func withBSON<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        let bson = bson_new()!
        defer { bson_destroy(bson) }
        try Self.append(fields, to: bson)
        return try body(bson)
    }

    /// Reads a `bson_t` the driver handed back.
    init(reading bson: OpaquePointer) {
        let iterator = neosc_bson_iter_new()!
        defer { neosc_bson_iter_free(iterator) }
        guard bson_iter_init(iterator, bson) else {
            self.init()
            return
        }
        self.init(Self.readFields(iterator))
    }

    struct TooLarge: Error {}

    private static func append(_ fields: [Field], to bson: OpaquePointer) throws {
        for field in fields {
            let key = field.key
            let keyLength = Int32(key.utf8.count)
            let appended: Bool
            switch field.value {
            case .string(let text):
                appended = bson_append_utf8(bson, key, keyLength, text, Int32(text.utf8.count))
            case .int(let number):
                appended = bson_append_int64(bson, key, keyLength, number)
            case .double(let number):
                appended = bson_append_double(bson, key, keyLength, number)
            case .bool(let flag):
                appended = bson_append_bool(bson, key, keyLength, flag)
            case .date(let date):
                appended = bson_append_date_time(bson, key, keyLength, Int64((date.timeIntervalSince1970 * 1_000).rounded()))
            case .null:
                appended = bson_append_null(bson, key, keyLength)
            case .document(let document):
                appended = try document.withBSON { bson_append_document(bson, key, keyLength, $0) }
            case .array(let items):
                let array = BSONDocument(items.enumerated().map { Field(key: String($0.offset), value: $0.element) })
                appended = try array.withBSON { bson_append_array(bson, key, keyLength, $0) }
            }
            guard appended else { throw TooLarge() }
        }
    }

    private static func readFields(_ iterator: OpaquePointer) -> [Field] {
        var fields: [Field] = []
        while bson_iter_next(iterator) {
            fields.append(Field(key: String(cString: bson_iter_key(iterator)), value: readValue(iterator)))
        }
        return fields
    }

    private static func readValue(_ iterator: OpaquePointer) -> BSON {
        switch bson_iter_type(iterator) {
        case BSON_TYPE_UTF8:
            var length: UInt32 = 0
            guard let pointer = bson_iter_utf8(iterator, &length) else { return .null }
            return .string(String(decoding: UnsafeRawBufferPointer(start: pointer, count: Int(length)), as: UTF8.self))
        case BSON_TYPE_INT32:
            return .int(Int64(bson_iter_int32(iterator)))
        case BSON_TYPE_INT64:
            return .int(bson_iter_int64(iterator))
        case BSON_TYPE_DOUBLE:
            return .double(bson_iter_double(iterator))
        case BSON_TYPE_BOOL:
            return .bool(bson_iter_bool(iterator))
        case BSON_TYPE_DATE_TIME:
            return .date(Date(timeIntervalSince1970: Double(bson_iter_date_time(iterator)) / 1_000))
        case BSON_TYPE_DOCUMENT, BSON_TYPE_ARRAY:
            let isArray = bson_iter_type(iterator) == BSON_TYPE_ARRAY
            let child = neosc_bson_iter_new()!
            defer { neosc_bson_iter_free(child) }
            guard bson_iter_recurse(iterator, child) else { return .null }
            let fields = readFields(child)
            return isArray ? .array(fields.map(\.value)) : .document(BSONDocument(fields))
        case BSON_TYPE_OID:
            guard let oid = bson_iter_oid(iterator) else { return .null }
            let text = UnsafeMutablePointer<CChar>.allocate(capacity: 25)
            defer { text.deallocate() }
            bson_oid_to_string(oid, text)
            return .string(String(cString: text))
        default:
            return .null
        }
    }
}
