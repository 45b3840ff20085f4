/// The 0–100 figure on the dashboard, computed from facts, never stored:
///
///     score = round(60 × enabled policy weight / total policy weight + 40 × MFA coverage)
///
/// where MFA coverage is the share of active users with MFA enabled (0 when there are none).
/// With no policies at all, the policy part is 0.
public enum SecurityScore {
    public static func compute(policies: [Policy], activeUsers: Int, usersWithMFA: Int) -> Int {
        let totalWeight = policies.reduce(0) { $0 + max($1.weight, 0) }
        let enabledWeight = policies.filter(\.enabled).reduce(0) { $0 + max($1.weight, 0) }
        let policyPart = totalWeight > 0 ? 60 * Double(enabledWeight) / Double(totalWeight) : 0
        let coverage = activeUsers > 0 ? Double(min(usersWithMFA, activeUsers)) / Double(activeUsers) : 0
        return Int((policyPart + 40 * coverage).rounded())
    }
}
