// Shared by every harness: taking the fuzzer's bytes apart, checking a property, and running
// NeoSC's async code to completion from libFuzzer's synchronous callback.
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The fuzzer's input, consumed from the front.
struct FuzzInput {
    private(set) var bytes: ArraySlice<UInt8>

    init(_ start: UnsafeRawPointer, _ count: Int) {
        bytes = ArraySlice(UnsafeRawBufferPointer(start: start, count: count))
    }

    init(_ bytes: [UInt8]) {
        self.bytes = bytes[...]
    }

    var isEmpty: Bool { bytes.isEmpty }

    /// The next byte, or 0 once the input is used up.
    mutating func byte() -> UInt8 {
        bytes.popFirst() ?? 0
    }

    /// The bytes up to the next `separator` (consumed, not returned), or all that is left.
    mutating func field(separator: UInt8 = 0) -> ArraySlice<UInt8> {
        guard let end = bytes.firstIndex(of: separator) else {
            defer { bytes = bytes[bytes.endIndex...] }
            return bytes
        }
        defer { bytes = bytes[(end + 1)...] }
        return bytes[..<end]
    }

    /// What is left, as text the way Swift reads bytes it is handed (invalid UTF-8 repaired).
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Text from bytes, invalid UTF-8 replaced with U+FFFD, as a `String` init from a buffer does.
func text(_ bytes: some Collection<UInt8>) -> String {
    String(decoding: bytes, as: UTF8.self)
}

/// With NEOSC_FUZZ_RAW set, harnesses pass bytes on as they are, even those the transport never
/// delivers (NUL in a header or an environment variable): for fuzzing an API's own contract.
let rawInputs = ProcessInfo.processInfo.environment["NEOSC_FUZZ_RAW"].map { !$0.isEmpty && $0 != "0" } ?? false

/// An HTTP field value as Hummingbird hands it to NeoSC: swift-http-types replaces NUL, CR and LF
/// with spaces (`HTTPField.Value(legalize:)`), so no header value a route sees contains them.
func headerValue(_ bytes: some Collection<UInt8>) -> String {
    rawInputs ? text(bytes) : text(bytes.map { $0 == 0x00 || $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 })
}

/// A configuration value as the process gets it from its environment: a C string, so nothing
/// from the first NUL on.
func environmentValue(_ bytes: some Collection<UInt8>) -> String {
    rawInputs ? text(bytes) : text(bytes.prefix { $0 != 0 })
}

/// Fails the run when `condition` does not hold: the message goes to stderr, and the abort is a
/// crash to libFuzzer, which saves the input as `crash-<sha1>`.
func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        FileHandle.standardError.write(Data("\nPROPERTY FAILED at \(file):\(line): \(message())\n".utf8))
        abort()
    }
}

/// `value` quoted with every non-printable or non-ASCII scalar escaped, for failure messages.
func quoted(_ value: String) -> String {
    "\"" + value.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() + "\""
}

/// Runs `body` to completion on the thread that calls it, which is libFuzzer's: its callback is
/// synchronous, NeoSC's verification and request decoding are async. Every job of the task (and
/// of the default actors it calls, which follow a task's executor preference) runs here, so no
/// instrumented code is still running on a pool thread while libFuzzer reads the coverage
/// counters after the callback. With a semaphore signalled from the pool, the task's last steps
/// raced that read, and the same seed gave different runs.
func runBlocking<Value>(_ body: @escaping @Sendable () async -> Value) -> Value {
    let executor = CallerThreadExecutor()
    let outcome = Outcome<Value>()
    Task(executorPreference: executor) {
        outcome.value = await body()
    }
    executor.runJobs { outcome.value != nil }
    return outcome.value!
}

/// Holds the value a task hands to the thread that runs it; written once, then read once.
final class Outcome<Value>: @unchecked Sendable {
    var value: Value?
}

/// A task executor whose jobs run on the thread that calls `runJobs`. Jobs can be enqueued from
/// any thread (a timer's, say); they run in order.
final class CallerThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs jobs as they come until `finished` holds with none left to run.
    func runJobs(until finished: () -> Bool) {
        while true {
            condition.lock()
            while jobs.isEmpty && !finished() { condition.wait() }
            guard !jobs.isEmpty else {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
