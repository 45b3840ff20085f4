// Target `flat-json`: `FlatJSONObject.decode`, how the embedded store reads every audit entry's
// details (a JSON object of strings) without Foundation's decoder.
//
// Input: any bytes, as the column's text (invalid UTF-8 repaired, as a Swift String is).
// Properties, for every input:
//   - what it reads, JSONDecoder reads the same (it may decline what JSONDecoder reads: the store
//     then asks JSONDecoder, so nothing valid is read differently);
//   - what JSONEncoder writes of a map it read, it reads back unchanged.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFlatJSON(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    guard let read = FlatJSONObject.decode(text) else { return 0 }
    let reference = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    require(read == reference, "\(quoted(text)) read as \(read), JSONDecoder says \(String(describing: reference))")
    let written = String(decoding: try! JSONEncoder().encode(read), as: UTF8.self)
    require(FlatJSONObject.decode(written) == read, "\(quoted(written)), written from \(read), does not read back")
    return 0
}
