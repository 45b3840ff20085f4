/// Why a sign-in through the provider failed before any token could be checked.
package enum SignInFailure: String, Error {
    case codeRejected = "code_rejected"
    case noIDToken = "no_id_token"
    case redirectNotAllowed = "redirect_uri_not_allowed"
    case unknownState = "unknown_state"
    case providerError = "provider_error"

    package var detail: String {
        switch self {
        case .codeRejected: "The identity provider refused the authorization code"
        case .noIDToken: "The identity provider returned no ID token"
        case .redirectNotAllowed: "redirect_uri is not one NeoSC accepts"
        case .unknownState: "Unknown or expired sign-in; start again"
        case .providerError: "The identity provider reported an error"
        }
    }
}
