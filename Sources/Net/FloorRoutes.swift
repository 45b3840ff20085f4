import Hummingbird

/// `GET /bench/floor`: answers `{"ok":true}` after the same middleware as every route, doing no
/// work of its own. Load benchmarks report each scenario as a share of its throughput, the
/// closest measure of the server stack's own limit. Served only with `NEOSC_BENCHMARK_ROUTES=true`.
struct FloorRoutes {
    struct Floor: Encodable, Sendable {
        var ok = true
    }

    func register(on router: Router<PortalRequestContext>) {
        router.get("bench/floor") { _, _ in JSONBody(Floor()) }
    }
}
