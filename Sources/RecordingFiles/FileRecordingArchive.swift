import CompressNIO
import Domain
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Recordings as files in a folder of the data directory: `<id>.rec.gz`, a gzip stream of records
/// (8 bytes: milliseconds since the stream opened; 4 bytes: length; then the bytes the desktop
/// sent, all big-endian), and `<id>.json`, its description. Files are written on a thread pool,
/// never on an event loop; the folder is readable by its owner only.
public struct FileRecordingArchive: RecordingArchive {
    let directory: URL
    let threadPool: NIOThreadPool

    public init(directory: String, threadPool: NIOThreadPool = .singleton) {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        self.threadPool = threadPool
    }

    public func begin(_ recording: Recording) async throws -> any RecordingSink {
        guard Identifier.isValidSlug(recording.id) else { throw DomainError.invalid("recording id") }
        let directory = self.directory
        let (handle, described) = try await threadPool.runIfActive {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let file = directory.appendingPathComponent(recording.id + ".rec.gz")
            guard FileManager.default.createFile(atPath: file.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw DomainError.unavailable("The recording file could not be created")
            }
            let described = directory.appendingPathComponent(recording.id + ".json")
            try Self.describe(recording, at: described)
            return (try FileHandle(forWritingTo: file), described)
        }
        return try FileRecordingSink(recording: recording, handle: handle, description: described, threadPool: threadPool)
    }

    public func recordings() async throws -> [Recording] {
        let directory = self.directory
        return try await threadPool.runIfActive {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            return names.filter { $0.hasSuffix(".json") }.compactMap { name in
                (try? Data(contentsOf: directory.appendingPathComponent(name))).flatMap { try? Self.decoder.decode(Recording.self, from: $0) }
            }.sorted { $0.startedAt > $1.startedAt }
        }
    }

    public func recording(id: String) async throws -> Recording? {
        guard Identifier.isValidSlug(id) else { return nil }
        let described = directory.appendingPathComponent(id + ".json")
        return try await threadPool.runIfActive {
            (try? Data(contentsOf: described)).flatMap { try? Self.decoder.decode(Recording.self, from: $0) }
        }
    }

    public func filePath(of id: String) -> String? {
        guard Identifier.isValidSlug(id) else { return nil }
        let path = directory.appendingPathComponent(id + ".rec.gz").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    public func delete(id: String) async throws -> Bool {
        guard Identifier.isValidSlug(id) else { return false }
        let directory = self.directory
        return try await threadPool.runIfActive {
            try Self.descriptions.withLock { _ in
                var removed = false
                for suffix in [".rec.gz", ".json"] {
                    let file = directory.appendingPathComponent(id + suffix)
                    if FileManager.default.fileExists(atPath: file.path) {
                        try FileManager.default.removeItem(at: file)
                        removed = true
                    }
                }
                return removed
            }
        }
    }

    /// Held (on the thread pool, never on an event loop) while a recording's files are deleted,
    /// and while a finishing recording's description is written again: a deletion while the
    /// stream was closing was undone by the finish, which wrote the description back (listed,
    /// its file gone).
    static let descriptions = Mutex(())

    static func describe(_ recording: Recording, at url: URL) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(recording).write(to: url, options: .atomic)
    }

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// One recording being written: each append compressed (flushed, so the file on disk is always a
/// readable prefix) and written before the next is taken, so a slow disk slows the stream rather
/// than growing a buffer.
actor FileRecordingSink: RecordingSink {
    private(set) var recording: Recording
    private let handle: FileHandle
    private let description: URL
    private let threadPool: NIOThreadPool
    private let compressor: ZlibCompressor

    init(recording: Recording, handle: FileHandle, description: URL, threadPool: NIOThreadPool) throws {
        self.recording = recording
        self.handle = handle
        self.description = description
        self.threadPool = threadPool
        self.compressor = try ZlibCompressor(algorithm: .gzip)
    }

    func append(_ bytes: [UInt8], at offset: Duration) async throws {
        var record = ByteBuffer()
        record.reserveCapacity(12 + bytes.count)
        let (seconds, attoseconds) = offset.components
        record.writeInteger(UInt64(max(0, seconds * 1_000 + attoseconds / 1_000_000_000_000_000)))
        record.writeInteger(UInt32(bytes.count))
        record.writeBytes(bytes)
        try await write(compressing: &record, flush: .sync)
        recording.bytesRecorded += bytes.count
    }

    func finish(at now: Date) async throws -> Recording {
        var empty = ByteBuffer()
        let handle = self.handle
        do {
            try await write(compressing: &empty, flush: .finish)
        } catch {
            // The file is closed whatever happened to its last bytes (a full disk).
            try? handle.close()
            throw error
        }
        recording.finishedAt = now
        let finished = recording
        let description = self.description
        let threadPool = self.threadPool
        try await Task {
            try await threadPool.runIfActive {
                try handle.close()
                try FileRecordingArchive.descriptions.withLock { _ in
                    // Deleted while it was being finished: it stays deleted.
                    guard FileManager.default.fileExists(atPath: description.path) else { return }
                    try FileRecordingArchive.describe(finished, at: description)
                }
            }
        }.value
        return finished
    }

    private func write(compressing input: inout ByteBuffer, flush: CompressNIOFlush) async throws {
        var output = ByteBuffer()
        output.reserveCapacity(compressor.maxSize(from: input) + 64)
        try compressor.deflate(from: &input, to: &output, flush: flush)
        let data = Data(output.readableBytesView)
        recording.bytesStored += data.count
        let handle = self.handle
        let threadPool = self.threadPool
        // Not cancelled with the stream: the compressor has already taken these bytes, and a
        // write dropped now would leave a gzip stream no reader can go past.
        try await Task { try await threadPool.runIfActive { try handle.write(contentsOf: data) } }.value
    }
}
