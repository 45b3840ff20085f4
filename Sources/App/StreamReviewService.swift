import AsyncAlgorithms
import Logging
import ServiceLifecycle
import Services

/// Every `interval`, cuts the workspace streams whose session ended where this process did not
/// hear of it (another replica, the command line), and those a policy now refuses
/// (`WorkspaceStreams.review`). Ends this process makes itself cut at once, without waiting. Also
/// writes the refused streams counted in minutes that are over.
struct StreamReviewService: Service {
    let streams: WorkspaceStreams
    let interval: Duration
    let logger: Logger

    func run() async throws {
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            let cut = await streams.review()
            if cut > 0 { logger.info("Workspace streams cut on review", metadata: ["sessions": "\(cut)"]) }
            await streams.auditFoldedRefusals()
        }
        // Stopping: the refusals still being counted are written now.
        await streams.auditFoldedRefusals(everything: true)
    }
}
