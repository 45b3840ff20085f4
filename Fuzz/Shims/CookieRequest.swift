// For target `cookie`, which compiles Hummingbird's own cookie parser (Cookie.swift, Cookies.swift,
// Request+Cookies.swift and the two utilities they use, from the checkout in .build-fuzz/deps):
// the one thing of Hummingbird's `Request` they read, its `Cookie` header values.

/// Hummingbird's `Request`, reduced to what `Request.cookies` reads.
public struct Request: Sendable {
    public var headers: HTTPFields

    public init(cookieHeaders: [String]) {
        headers = HTTPFields(cookies: cookieHeaders)
    }
}

/// swift-http-types' `HTTPFields`, reduced to `headers[values: .cookie]`.
public struct HTTPFields: Sendable {
    var cookies: [String]

    public subscript(values name: HTTPField.Name) -> [String] {
        name == .cookie ? cookies : []
    }
}

public enum HTTPField {
    public struct Name: Sendable, Equatable {
        var name: String
        public static let cookie = Name(name: "Cookie")
    }
}
