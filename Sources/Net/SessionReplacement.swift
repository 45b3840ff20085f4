import Domain
import Logging
import Services

/// What a new sign-in in a browser already signed in does to the session its cookie held: that
/// token is revoked (nothing in the browser could revoke it any more), audited `logout` with
/// `reason: replaced`, and a demo visitor's demo ends, as its sign-out ends it. The new sign-in
/// stands whatever happens here.
struct SessionReplacement: Sendable {
    let signIn: SignIn
    let demos: DemoLifecycle

    func replace(_ previous: Principal, from address: String, logger: Logger) async {
        do {
            try await signIn.replaced(previous, from: address)
        } catch {
            logger.warning(
                "A replaced session's token could not be revoked now (it expires on its own)",
                metadata: ["user": "\(previous.userID)", "error": "\(error)"])
        }
        await demos.signedOut(previous)
    }
}
