import Actors
import Domain
import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOWebSocket
import ServiceLifecycle
import Services

/// One workspace stream: the browser's WebSocket relayed to the workspace's upstream, either VNC/RFB
/// over TCP (binary frames one way and bytes the other, as websockify does for noVNC) or a
/// WebSocket (KasmVNC, Guacamole's tunnel: frames passed through as they are, opcode and all). Back-pressure
/// holds on both sides: each direction writes before it reads again, so a slow reader slows the
/// other side's reads instead of growing a buffer. It ends when either side closes, the upstream
/// stays silent, or its session ends (`LiveStreams` cuts it), and tells the browser why.
struct StreamRelay: Sendable {
    /// Why a relay ended, each with the close the browser gets.
    enum Ending: Sendable, Equatable {
        case sessionEnded(String)
        case browserClosed
        case upstreamClosed
        case upstreamSilent
        /// The session must be recorded and its recording could not be written: the stream ends.
        case recordingFailed
        /// The first-byte deadline passed with bytes already relayed: not an ending.
        case upstreamSpoke
        /// The cut sequence finished without a cut: the stream is closing anyway.
        case noCut
        /// The server is shutting down (gracefully): the WebSocket library closes the browser's
        /// side (1000). The session goes on; the viewer offers to reconnect.
        case shutdown

        var auditReason: String {
            switch self {
            case .sessionEnded(let why) where why.hasPrefix(StreamContinuation.policyCutPrefix): why
            case .sessionEnded(let why): "session_ended:\(why)"
            case .browserClosed: "browser_closed"
            case .upstreamClosed: "upstream_closed"
            case .upstreamSilent: "upstream_silent"
            case .recordingFailed: "recording_failed"
            case .shutdown: "shutdown"
            case .upstreamSpoke, .noCut: "closed"
            }
        }
    }

    /// Close codes the viewer can tell apart (RFC 6455 §7.4; 4000–4999 are the application's).
    enum CloseCode {
        /// The session ended; the reason says why (`Session ended: stopped`).
        static let sessionEnded = WebSocketErrorCode(codeNumber: 4000)
        /// A policy refuses the session now (a time window closed, …); the session itself goes on.
        static let policyRefused = WebSocketErrorCode(codeNumber: 4003)
        /// The ticket, the session or the workspace refused the stream before anything was dialled.
        static let refused = WebSocketErrorCode.policyViolation
        /// The workspace refused, did not answer or stayed silent (1014, "bad gateway").
        static let badGateway = WebSocketErrorCode(codeNumber: 1014)
    }

    let streams: WorkspaceStreams
    let admission: WorkspaceStreams.Admission
    let settings: StreamSettings
    let logger: Logger
    /// When the stream opened, for the recording's timestamps.
    let started = ContinuousClock.now

    /// The subprotocol the browser was answered with, asked of a WebSocket upstream.
    let upstreamProtocol: String?

    /// Relays until the stream ends. `channel` is the browser's: closed outright if the browser
    /// will not take the close frame that says why (it has stopped reading).
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, on channel: any Channel) async {
        let tell = { @Sendable (ending: Ending) async in await self.tell(outbound, ending, or: channel) }
        switch admission.upstream.scheme {
        case .vnc: await runOverTCP(inbound: inbound, outbound: outbound, on: channel.eventLoop, tell: tell)
        case .ws, .wss: await runOverWebSocket(inbound: inbound, outbound: outbound, on: channel.eventLoop, tell: tell)
        }
    }

    private func runOverTCP(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, on eventLoop: any EventLoop,
        tell: @escaping @Sendable (Ending) async -> Void
    ) async {
        let upstream: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            upstream = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(TimeAmount(settings.connectTimeout))
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: admission.upstream.host, port: admission.upstream.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 4)))
                    }
                }
        } catch {
            await unreachable(error, outbound)
            return
        }
        // Recorded while the bytes already flow: the desktop never waits for the store.
        async let opened: Void = streams.opened(admission)
        let tally = NIOLockedValueBox((fromBrowser: 0, toBrowser: 0))
        var ending = Ending.noCut
        do {
            ending = try await upstream.executeThenClose { fromUpstream, toUpstream in
                await relay(
                    tell: tell, tally: tally, upstreamSpeaksFirst: true,
                    down: {
                        do {
                            for try await var bytes in fromUpstream {
                                tally.withLockedValue { $0.toBrowser += bytes.readableBytes }
                                guard await record(bytes) else { return .recordingFailed }
                                do {
                                    // Frames no larger than the browser's own may be, for clients
                                    // that hold frames to the size they send.
                                    while bytes.readableBytes > settings.maxFrameSize,
                                        let slice = bytes.readSlice(length: settings.maxFrameSize)
                                    {
                                        try await outbound.write(.binary(slice))
                                    }
                                    try await outbound.write(.binary(bytes))
                                } catch {
                                    return .browserClosed
                                }
                            }
                        } catch {}
                        return .upstreamClosed
                    },
                    up: {
                        await fromBrowser(inbound, tally: tally) { frame in try await toUpstream.write(frame.data) }
                    })
            }
        } catch {
            logger.debug("Workspace stream: upstream close failed", metadata: ["error": "\(error)"])
        }
        let bytes = tally.withLockedValue { $0 }
        await opened
        await streams.closed(
            admission,
            WorkspaceStreams.Closing(
                reason: ending.auditReason, bytesFromBrowser: bytes.fromBrowser, bytesToBrowser: bytes.toBrowser))
    }

    private func runOverWebSocket(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, on eventLoop: any EventLoop,
        tell: @escaping @Sendable (Ending) async -> Void
    ) async {
        // A desktop's frames may be large (a full screen at once): the browser takes any size.
        let client = UpstreamWebSocket(
            upstream: admission.upstream, subprotocol: upstreamProtocol, maxFrameSize: 1 << 24, closeTimeout: .seconds(5),
            trust: settings.upstreamTrust, logger: logger)
        let upgraded: UpstreamWebSocket.Upgraded
        do {
            upgraded = try await client.connect(
                on: eventLoop, connectTimeout: settings.connectTimeout, answerTimeout: settings.firstByteTimeout)
        } catch {
            await unreachable(error, outbound)
            return
        }
        async let opened: Void = streams.opened(admission)
        let tally = NIOLockedValueBox((fromBrowser: 0, toBrowser: 0))
        let outcome = NIOLockedValueBox<Ending?>(nil)
        do {
            try await client.run(upgraded) { fromUpstream, toUpstream, _ in
                let ending = await relay(
                    tell: tell, tally: tally, upstreamSpeaksFirst: false,
                    down: {
                        do {
                            for try await frame in fromUpstream {
                                tally.withLockedValue { $0.toBrowser += frame.data.readableBytes }
                                guard await record(frame.data) else { return .recordingFailed }
                                do {
                                    try await outbound.write(.custom(Self.frame(frame)))
                                } catch {
                                    return .browserClosed
                                }
                            }
                        } catch {}
                        return .upstreamClosed
                    },
                    up: {
                        await fromBrowser(inbound, tally: tally) { frame in try await toUpstream.write(.custom(Self.frame(frame))) }
                    })
                outcome.withLockedValue { $0 = ending }
            }
        } catch {
            logger.debug("Workspace stream: upstream close failed", metadata: ["error": "\(error)"])
        }
        await opened
        let ending = outcome.withLockedValue { $0 } ?? .upstreamClosed
        let bytes = tally.withLockedValue { $0 }
        await streams.closed(
            admission,
            WorkspaceStreams.Closing(reason: ending.auditReason, bytesFromBrowser: bytes.fromBrowser, bytesToBrowser: bytes.toBrowser))
    }

    /// The upstream could not be reached: logged, audited, and the browser told (1014).
    private func unreachable(_ error: any Error, _ outbound: WebSocketOutboundWriter) async {
        logger.notice(
            "Workspace stream: upstream unreachable",
            metadata: ["session_id": "\(admission.session.id)", "upstream": "\(admission.upstream.shown)", "error": "\(error)"])
        await streams.upstreamFailed(admission, reason: "upstream_unreachable")
        try? await outbound.close(CloseCode.badGateway, reason: "The workspace did not answer")
    }

    /// Writes what the desktop sent to the session's recording, if it is recorded; false when
    /// that failed (the stream then ends: a recorded session never streams unrecorded).
    private func record(_ bytes: ByteBuffer) async -> Bool {
        guard let sink = admission.recording else { return true }
        do {
            try await sink.append(Array(bytes.readableBytesView), at: ContinuousClock.now - started)
            return true
        } catch {
            logger.error("Workspace stream: recording failed", metadata: ["session_id": "\(admission.session.id)", "error": "\(error)"])
            return false
        }
    }

    /// A data frame as it came, to pass on (masked by the writer when it is a client's).
    private static func frame(_ frame: WebSocketDataFrame) -> WebSocketFrame {
        let opcode: WebSocketOpcode =
            switch frame.opcode {
            case .text: .text
            case .binary: .binary
            case .continuation: .continuation
            }
        return WebSocketFrame(fin: frame.fin, opcode: opcode, data: frame.data)
    }

    /// Browser to upstream: each frame written (by `write`) before the next is read; input counts
    /// as the session's activity, at most every `activityInterval`.
    private func fromBrowser(
        _ inbound: WebSocketInboundStream, tally: NIOLockedValueBox<(fromBrowser: Int, toBrowser: Int)>,
        write: (WebSocketDataFrame) async throws -> Void
    ) async -> Ending {
        var lastActive = ContinuousClock.now
        do {
            for try await frame in inbound {
                tally.withLockedValue { $0.fromBrowser += frame.data.readableBytes }
                do {
                    try await write(frame)
                } catch {
                    return .upstreamClosed
                }
                if ContinuousClock.now - lastActive >= streams.activityInterval {
                    lastActive = .now
                    await streams.active(admission)
                }
            }
        } catch {}
        return .browserClosed
    }

    /// Both directions, the session's cut and the server's shutdown, until the first of them
    /// ends; the browser is told why before the others are waited for. An upstream that speaks
    /// first (RFB) and stays silent past `firstByteTimeout` ends it too.
    private func relay(
        tell: @Sendable (Ending) async -> Void, tally: NIOLockedValueBox<(fromBrowser: Int, toBrowser: Int)>, upstreamSpeaksFirst: Bool,
        down: @escaping @Sendable () async -> Ending, up: @escaping @Sendable () async -> Ending
    ) async -> Ending {
        await withTaskGroup(of: Ending.self) { group in
            group.addTask(operation: down)
            group.addTask(operation: up)
            group.addTask {
                for await reason in admission.opened.cuts { return .sessionEnded(reason) }
                return .noCut
            }
            group.addTask {
                // Returns on a graceful shutdown, throws when the stream ends first (cancelled).
                do { try await gracefulShutdown() } catch { return .noCut }
                return .shutdown
            }
            if upstreamSpeaksFirst {
                group.addTask {
                    try? await Task.sleep(for: settings.firstByteTimeout)
                    return tally.withLockedValue { $0.toBrowser } > 0 ? .upstreamSpoke : .upstreamSilent
                }
            }
            var ending = Ending.noCut
            while let next = await group.next() {
                if next == .upstreamSpoke || next == .noCut { continue }
                ending = next
                break
            }
            // The browser's answer to the close the shutdown sent may come in first.
            if ending == .browserClosed && Task.isShuttingDownGracefully { ending = .shutdown }
            // Both directions stop first: nothing more reaches the workspace once the decision is
            // made, whatever the browser does with the close that follows.
            group.cancelAll()
            await tell(ending)
            return ending
        }
    }

    /// Tells the browser why, within a second: a browser that is not reading never takes the
    /// close frame, and then its connection is closed without one.
    private func tell(_ outbound: WebSocketOutboundWriter, _ ending: Ending, or channel: any Channel) async {
        let deadline = Task {
            try await Task.sleep(for: .seconds(1))
            try await channel.close()
        }
        await tell(outbound, ending)
        deadline.cancel()
    }

    private func tell(_ outbound: WebSocketOutboundWriter, _ ending: Ending) async {
        switch ending {
        case .sessionEnded(let why) where why.hasPrefix(StreamContinuation.policyCutPrefix):
            let policy = why.dropFirst(StreamContinuation.policyCutPrefix.count)
            try? await outbound.close(CloseCode.policyRefused, reason: String("Refused by policy \(policy)".utf8.prefix(123))!)
        case .sessionEnded(let why):
            try? await outbound.close(CloseCode.sessionEnded, reason: "Session ended: \(why)")
        case .upstreamClosed:
            try? await outbound.close(.normalClosure, reason: "The workspace closed the connection")
        case .upstreamSilent:
            try? await outbound.close(CloseCode.badGateway, reason: "The workspace did not answer")
        case .recordingFailed:
            try? await outbound.close(.unexpectedServerError, reason: "This session must be recorded, and the recording failed")
        case .browserClosed, .shutdown, .upstreamSpoke, .noCut:
            break
        }
    }
}
