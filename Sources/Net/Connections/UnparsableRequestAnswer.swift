import Logging
import NIOCore
import NIOHTTP1

/// Answers a request the HTTP decoder cannot read (an unknown method, a NUL in the target, a
/// malformed header, headers over the decoder's limits) as every other refusal is answered: a 4xx
/// with a JSON `detail`, then the connection closed, since nothing after a parse error on it can
/// be read. (Left to Hummingbird, such a request got a 400 with no body, or on a connection that
/// may become a stream, no answer at all.) A head the decoder reads but whose `Host` is missing,
/// repeated or invalid (`RequestHost`), or that declares a body larger than any route reads, is
/// refused the same way, and goes no further.
///
/// Right after the decoder, on its types. The answer waits for those still owed to the
/// connection's earlier, pipelined requests, so that it is written last. A parse error in the
/// middle of a request's body is the request handler's, which is reading that body: it is passed
/// on, and the connection closed once that request is answered (or as soon as it may be, if it
/// has been), as Hummingbird would write a second answer to it. A request answered before its body
/// has all arrived (refused before the body is read, or a chunked body refused as too large) keeps
/// its connection only if the rest of that body is short (`drainedAfterAnswer`). On a connection that may become a stream, the handler
/// leaves the pipeline at a first head NIO may upgrade.
final class UnparsableRequestAnswer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let logger: Logger
    /// The connection's header-read deadline, off once a head is refused (nothing more is read).
    private let deadline: RequestReadDeadline?
    private var departure: UpgradeDeparture
    /// A head read, its end not yet.
    private var readingRequest = false
    /// Requests begun whose answer has not been written to its end.
    private var answersOwed = 0
    private var ending = Ending.notYet
    /// A read held back while a refusal waits (`read(context:)`), made once it is written.
    private var readHeld = false
    /// Whether what follows a refused head is read (and dropped) until the connection closes.
    private var readsAfterRefusal = true
    /// How much more of the body being read Hummingbird may drop, its request answered already:
    /// it reads a body to its end before the next request. Nil while no request is so answered.
    private var drainAllowance: Int?

    /// How much of a body still arriving after its request's answer is read and dropped to keep
    /// the connection for the next request, as Go's `net/http` does (256 KiB). Past it the
    /// connection is closed instead: Hummingbird would read a chunked body refused as too large
    /// (413) for as long as its client sends it.
    static let drainedAfterAnswer = 256 << 10

    private enum Ending {
        case notYet
        /// A parse error or a refused head between requests, answered once the answers owed are
        /// written; what follows it is dropped meanwhile.
        case answerOwed(Refusal)
        /// A parse error in a request's body, passed on to the handler reading it: the connection
        /// closes once that request is answered, before anything more is written (Hummingbird
        /// would add a 400 of its own).
        case closeAfterAnswers
        /// Closing: nothing more is written.
        case closing
    }

    init(upgradable: Bool, deadline: RequestReadDeadline? = nil, logger: Logger) {
        departure = UpgradeDeparture(upgradable: upgradable)
        self.deadline = deadline
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch ending {
        case .answerOwed, .closing:
            // After a refused head the decoder reads on (its body, the requests after it), but
            // the connection is closing and none of it is the application's. (After a parse
            // error, the decoder itself reads nothing more.)
            return
        case .notYet, .closeAfterAnswers:
            break
        }
        var data = data
        switch unwrapInboundIn(data) {
        case .head(var head):
            if let flaw = RequestHost.flaw(in: head) {
                refuse(Refusal(flaw), of: head, context: context)
                return
            }
            if Self.declaresTooLargeABody(head) {
                refuse(.tooLarge, of: head, context: context)
                return
            }
            if Self.hasUnreadableFraming(head) {
                refuse(.unreadableFraming, of: head, context: context)
                return
            }
            if head.method != .CONNECT, let named = RequestHost.absoluteFormAuthority(of: head.uri) {
                head.headers.replaceOrAdd(name: "Host", value: String(Substring(named)))
                data = wrapInboundOut(.head(head))
            }
            readingRequest = true
            answersOwed += 1
            if departure.leaves(at: head) {
                context.fireChannelReadAndLeave(data)
                return
            }
        case .body(let part):
            if let allowance = drainAllowance {
                guard allowance >= part.readableBytes else {
                    endDrain(context: context)
                    return
                }
                drainAllowance = allowance - part.readableBytes
            }
        case .end:
            readingRequest = false
            drainAllowance = nil
        }
        context.fireChannelRead(data)
    }

    /// Ends a connection whose answered request's body goes on past `drainedAfterAnswer`: its
    /// answer is written; what the client still sends is read and dropped for a while, so that an
    /// uploading browser reads that answer rather than a reset.
    private func endDrain(context: ChannelHandlerContext) {
        logger.debug("Closing a connection whose answered request's body goes on")
        drainAllowance = nil
        ending = .closing
        ConnectionRefusal.closeOnceSent(context: context, draining: ConnectionRefusal.uploadDraining)
    }

    /// Whether `head`'s body has a length no reader can determine: a `Transfer-Encoding` whose
    /// last coding is not `chunked` (`gzip`, `identity`, `xchunked`), or that names no coding at
    /// all (empty, `,`). RFC 9112 §6.3 has such a request answered 400 and its connection
    /// closed; NIO's parser passes the head on and fails later, after a route may have acted on
    /// it (a launch, a logout). Read more narrowly than the parser reads it, so that nothing it
    /// takes for another framing passes: codings of token characters, separated by commas and
    /// spaces (a tab after `chunked` is not one the parser trims).
    private static func hasUnreadableFraming(_ head: HTTPRequestHead) -> Bool {
        var present = false
        var last: Substring?
        for (name, value) in head.headers where name.utf8.count == 17 && name.lowercased() == "transfer-encoding" {
            present = true
            for coding in value.split(separator: ",", omittingEmptySubsequences: false) {
                var trimmed = coding.drop { $0 == " " }
                while trimmed.last == " " { trimmed = trimmed.dropLast() }
                guard !trimmed.isEmpty else { continue }
                guard trimmed.utf8.allSatisfy(isTokenByte) else { return true }
                last = trimmed
            }
        }
        guard present else { return false }
        guard let last else { return true }
        return last.lowercased() != "chunked"
    }

    /// A `tchar` of RFC 9110 §5.6.2.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// Whether `head` declares a body larger than any route reads. Answered here, its connection
    /// closed, the body is never read: after a route's 413 Hummingbird would read and drop all of
    /// it, and a client that sent none would hold the connection until the idle timeout. (No
    /// `100 Continue` is sent for it either: the head goes no further.)
    private static func declaresTooLargeABody(_ head: HTTPRequestHead) -> Bool {
        for (name, value) in head.headers where name.utf8.count == 14 && name.lowercased() == "content-length" {
            if DeclaredLength.exceeds(value, PortalRequestContext.largestUpload) { return true }
        }
        return false
    }

    /// A head refused before it goes further: answered once the answers owed are written.
    private func refuse(_ refusal: Refusal, of head: HTTPRequestHead, context: ChannelHandlerContext) {
        logger.debug("Refused request head", metadata: ["detail": "\(refusal.detail)"])
        deadline?.cancel()
        // After a `CONNECT` or an upgrade NIO's parser stops: nothing that follows is parsed, so
        // nothing is dropped either, and every byte read would pile up in the decoder. Nothing
        // more is read; the connection closes after the usual moment, however large a body it
        // declared.
        readsAfterRefusal = !head.stopsParser
        if answersOwed == 0 {
            answer(refusal, context: context)
        } else {
            ending = .answerOwed(refusal)
        }
    }

    /// While a refusal waits for the answers owed before it, nothing more is read: what follows a
    /// refused head is dropped, and a client must not keep the decoder busy with it meanwhile.
    func read(context: ChannelHandlerContext) {
        switch ending {
        case .answerOwed:
            readHeld = true
        case .closing where !readsAfterRefusal:
            break
        default:
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .closing = ending {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        answersOwed -= 1
        if answersOwed == 0, readingRequest, case .notYet = ending {
            // Answered before its body ended (a 413 among them): only so much more is drained.
            drainAllowance = Self.drainedAfterAnswer
        }
        switch ending {
        case .answerOwed(let refusal) where answersOwed == 0:
            context.write(data, promise: promise)
            answer(refusal, context: context)
        case .closeAfterAnswers where answersOwed == 0:
            ending = .closing
            context.writeAndFlush(data, promise: promise)
            ConnectionRefusal.closeOnceSent(context: context)
        default:
            context.write(data, promise: promise)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard case .notYet = ending else {
            // The decoder refuses whatever follows its first error: already dealt with.
            if !(error is HTTPParserError || error is ByteToMessageDecoderError) { context.fireErrorCaught(error) }
            return
        }
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if parseError == .closedConnection {
            deadline?.cancel()
            // Bytes after a request that ends the connection (RFC 9112 §9.6: not to be processed):
            // no answer of their own; the connection closes once that request is answered.
            if answersOwed == 0 {
                ending = .closing
                ConnectionRefusal.closeOnceSent(context: context)
            } else {
                ending = .closeAfterAnswers
            }
            return
        }
        logger.debug("Unparsable request", metadata: ["error": "\(parseError)"])
        // No head follows an error: the header-read deadline must not close the connection while
        // the answers owed before it are written.
        deadline?.cancel()
        switch (readingRequest, answersOwed) {
        case (true, 0):
            // Answered already, before its body was read: nothing more to say on it.
            ending = .closing
            ConnectionRefusal.closeOnceSent(context: context)
        case (true, _):
            // The request's handler, reading the body, finds it unreadable and answers.
            ending = .closeAfterAnswers
            context.fireErrorCaught(error)
        case (false, 0):
            answer(Refusal(parseError), context: context)
        case (false, _):
            ending = .answerOwed(Refusal(parseError))
        }
    }

    private func answer(_ refusal: Refusal, context: ChannelHandlerContext) {
        ending = .closing
        ConnectionRefusal.write(
            refusal.status, detail: refusal.detail, draining: readsAfterRefusal ? refusal.draining : ConnectionRefusal.lingering,
            context: context)
        if readHeld, readsAfterRefusal {
            readHeld = false
            context.read()
        }
    }

    /// What a parse error or a refused head is answered with.
    struct Refusal: Equatable {
        let status: HTTPResponseStatus
        let detail: String
        /// How long what the client still sends is read and dropped after the answer.
        var draining = ConnectionRefusal.lingering

        init(status: HTTPResponseStatus, detail: String) {
            self.status = status
            self.detail = detail
        }

        /// Of a body declared larger than any route reads; the words are the routes' own 413's.
        /// A browser sends such a body without waiting for an answer, and reads none until it is
        /// sent: the connection drains it for a while (`uploadDraining`), so that the 413 is read,
        /// not lost to the reset a close amid the upload brings.
        static let tooLarge: Refusal = {
            var refusal = Refusal(status: .payloadTooLarge, detail: "Request body is larger than 1 MiB")
            refusal.draining = ConnectionRefusal.uploadDraining
            return refusal
        }()

        /// Of a body whose length cannot be determined (`hasUnreadableFraming`).
        static let unreadableFraming = Refusal(
            status: .badRequest, detail: "The request's Transfer-Encoding must end with chunked (RFC 9112 §6.3)")

        init(_ flaw: RequestHost.Flaw) {
            status = .badRequest
            switch flaw {
            case .missing: detail = "The request must name its host (a Host header)"
            case .repeated: detail = "The request names its host more than once (Host headers)"
            case .invalid: detail = "The request's Host header is not a valid host and port"
            case .target: detail = "The request's target must be a path, or an http or https URL"
            }
        }

        init(_ error: HTTPParserError) {
            switch error {
            case .headerOverflow:
                status = .requestHeaderFieldsTooLarge
                detail = "The request's headers are larger than this server accepts"
            case .invalidMethod:
                status = .badRequest
                detail = "The request's method is not an HTTP method"
            case .invalidURL, .invalidPath, .invalidQueryString, .invalidFragment, .invalidHost, .invalidPort:
                status = .badRequest
                detail = "The request's target is not a valid URI"
            case .invalidVersion:
                status = .badRequest
                detail = "The request's HTTP version is not supported"
            case .invalidHeaderToken:
                status = .badRequest
                detail = "A request header is malformed"
            case .invalidContentLength, .unexpectedContentLength, .invalidChunkSize:
                status = .badRequest
                detail = "The request's body length is malformed"
            default:
                status = .badRequest
                detail = "The request is not valid HTTP/1.1"
            }
        }
    }
}

@available(*, unavailable)
extension UnparsableRequestAnswer: Sendable {}
