import NIOPosix

/// Runs the jobs of the tasks that prefer it (`withTaskExecutorPreference`) on a `NIOThreadPool`.
///
/// A change holds the single writer for several statements, each a job of the writer's thread
/// pool, and between two of them its task ran on Swift's global executor: each statement was a
/// wake of the pool's thread and a wake of a cooperative thread to go on, two thread switches,
/// and on two cores those switches were most of a launch's CPU (docs/benchmarks.md). A change
/// that prefers the writer's pool (one thread) resumes on the very thread that ran its
/// statement, which takes the next statement from its queue without sleeping: a change's
/// statements follow one another on one thread, and only entering and leaving the change switch.
@available(macOS 15.0, *)
final class ThreadPoolTaskExecutor: TaskExecutor {
    private let pool: NIOThreadPool

    init(_ pool: NIOThreadPool) {
        self.pool = pool
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pool.submit { state in
            guard case .active = state else {
                // The pool has stopped and calls this at once, on the enqueuing thread (inside an
                // actor, a continuation's resumption): the job goes to Swift's global executor,
                // since a job never run would leave its task suspended for ever.
                globalConcurrentExecutor.enqueue(ExecutorJob(job))
                return
            }
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
