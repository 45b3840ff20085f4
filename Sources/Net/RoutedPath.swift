import Hummingbird

extension Request {
    /// The path as Hummingbird's router reads it: empty segments skipped, a trailing slash too, so
    /// `//api//auth/login/` is `/api/auth/login`, the route it reaches. Whatever decides by a
    /// request's path (is it the API's?) reads this, not the path as sent: a check on `/api/`
    /// that `//api/` passed would pass a request the API then answers.
    var routedPath: String {
        let path = uri.path
        var previousIsSlash = false
        for byte in path.utf8 {
            let isSlash = byte == UInt8(ascii: "/")
            if isSlash, previousIsSlash { return Self.routed(path) }
            previousIsSlash = isSlash
        }
        return previousIsSlash && path.utf8.count > 1 ? Self.routed(path) : path
    }

    private static func routed(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }

    /// Whether the request is for the API (`/api` and below), as routed.
    var isForAPI: Bool { Self.isAPI(routedPath) }

    /// Whether a routed path is the API's.
    static func isAPI(_ routedPath: String) -> Bool {
        routedPath == "/api" || routedPath.hasPrefix("/api/")
    }
}
