/// Runs `body`, then each of `closers` in order, whether `body` threw or not: a failed test still
/// closes its stores and connections, and `body`'s error is the one reported.
func closing(_ closers: [() async throws -> Void], after body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        for close in closers { try? await close() }
        throw error
    }
    for close in closers { try await close() }
}
