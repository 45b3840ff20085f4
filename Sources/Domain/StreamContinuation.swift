/// Whether a running stream may go on under the policies as they are now (issue #17: a policy
/// that now refuses the session cuts its stream). A pure decision on the policies' verdicts for
/// the stream as a launch (its user, role, workspace, client address, the session's MFA, the
/// clock); the caller cuts the stream.
public enum StreamContinuation {
    /// The kinds judged again while a stream runs: those the stream's own facts decide. Not
    /// `network_required`: the claims that satisfied it at launch are not kept with the session,
    /// so judging it again would cut streams its launch rightly allowed. Not `rate_limit`: a
    /// running stream makes no requests to count.
    public static let rejudged: Set<String> = [
        PolicyKind.timeWindow.rawValue, PolicyKind.addressAllowlist.rawValue, PolicyKind.mfaRequired.rawValue,
    ]

    /// How a cut a policy made names itself (`policy_refused:<policy id>`), beside the reasons
    /// sessions end for (`stopped`, `idle_timeout`, …).
    public static let policyCutPrefix = "policy_refused:"

    /// The verdict that ends the stream, if any: the first refusal of a kind judged again.
    public static func refusal(among verdicts: [PolicyVerdict]) -> PolicyVerdict? {
        verdicts.first { $0.isDenied && rejudged.contains($0.kind) }
    }
}
