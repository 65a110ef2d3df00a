import Foundation
import Synchronization
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Engine
import Storage

/// TLS as Redis's tls-* directives set it up: the TLS port's certificate, key and client
/// verification, and the client side a replica uses to reach its primary (`tls-replication`).
///
/// Contexts are built from the configuration at start and again when CONFIG SET changes a
/// tls-* value: a connection takes the context current when it is accepted, so certificates
/// are replaced without a restart and without touching connections already up. A context that
/// cannot be built (a missing file, a key that does not match) refuses the change and keeps
/// the old one.
final class TLSSetup: Sendable {
    private let engine: Engine
    private let serverContext = Locked<NIOSSLContext?>(nil)
    private let clientContext = Locked<NIOSSLContext?>(nil)

    init(engine: Engine) { self.engine = engine }

    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    /// Builds both contexts from the configuration now; throws, changing nothing, if either
    /// cannot be built.
    func reload() throws {
        let config = engine.config
        let server = try NIOSSLContext(configuration: Self.serverConfiguration(config))
        let client = try NIOSSLContext(configuration: Self.clientConfiguration(config))
        serverContext.withLock { $0 = server }
        clientContext.withLock { $0 = client }
    }

    /// The handler a new connection to the TLS port starts with.
    func serverHandler() -> NIOSSLServerHandler? {
        serverContext.withLock { $0 }.map { NIOSSLServerHandler(context: $0) }
    }

    static func serverConfiguration(_ config: Config) throws -> TLSConfiguration {
        let certFile = config.get("tls-cert-file"), keyFile = config.get("tls-key-file")
        guard !certFile.isEmpty, !keyFile.isEmpty else {
            throw SetupError(description: "tls-cert-file and tls-key-file are needed for the TLS port")
        }
        var c = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) },
            privateKey: .privateKey(try key(keyFile, passphrase: config.get("tls-key-file-pass"))))
        switch config.get("tls-auth-clients") {
        case "no": c.certificateVerification = .none
        case "optional": c.certificateVerification = .optionalVerification
        default: c.certificateVerification = .noHostnameVerification
        }
        try common(&c, config)
        return c
    }

    /// What a replica presents to its primary: tls-client-cert-file / -key-file, or the
    /// server's own certificate when they are not set (as Redis).
    static func clientConfiguration(_ config: Config) throws -> TLSConfiguration {
        var c = TLSConfiguration.makeClientConfiguration()
        var certFile = config.get("tls-client-cert-file"), keyFile = config.get("tls-client-key-file")
        var pass = config.get("tls-client-key-file-pass")
        if certFile.isEmpty {
            certFile = config.get("tls-cert-file")
            keyFile = config.get("tls-key-file")
            pass = config.get("tls-key-file-pass")
        }
        if !certFile.isEmpty && !keyFile.isEmpty {
            c.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
            c.privateKey = .privateKey(try key(keyFile, passphrase: pass))
        }
        // Redis checks the primary's certificate against the CA, not its name.
        c.certificateVerification = .noHostnameVerification
        try common(&c, config)
        return c
    }

    private static func common(_ c: inout TLSConfiguration, _ config: Config) throws {
        let caFile = config.get("tls-ca-cert-file"), caDir = config.get("tls-ca-cert-dir")
        if !caFile.isEmpty {
            c.trustRoots = .file(caFile)
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw SetupError(description: "cannot read tls-ca-cert-file \(caFile)")
            }
        } else if !caDir.isEmpty {
            c.trustRoots = .file(caDir)
        }
        let (low, high) = try protocols(config.get("tls-protocols"))
        c.minimumTLSVersion = low
        c.maximumTLSVersion = high
        let ciphers = config.get("tls-ciphers")
        if !ciphers.isEmpty { c.cipherSuites = ciphers }
    }

    private static func key(_ path: String, passphrase: String) throws -> NIOSSLPrivateKey {
        if passphrase.isEmpty { return try NIOSSLPrivateKey(file: path, format: .pem) }
        return try NIOSSLPrivateKey(file: path, format: .pem) { (set: ([UInt8]) -> Void) in set(Array(passphrase.utf8)) }
    }

    /// tls-protocols ("TLSv1.2 TLSv1.3", Redis's default when empty) as the lowest and highest
    /// versions allowed.
    static func protocols(_ text: String) throws -> (TLSVersion, TLSVersion?) {
        let names: [(String, TLSVersion)] = [("tlsv1", .tlsv1), ("tlsv1.1", .tlsv11), ("tlsv1.2", .tlsv12), ("tlsv1.3", .tlsv13)]
        let words = text.split(separator: " ").map { $0.lowercased() }
        if words.isEmpty { return (.tlsv12, .tlsv13) }
        var chosen: [Int] = []
        for w in words {
            guard let i = names.firstIndex(where: { $0.0 == w }) else {
                throw SetupError(description: "invalid tls-protocols value \(w)")
            }
            chosen.append(i)
        }
        return (names[chosen.min()!].1, names[chosen.max()!].1)
    }

    // MARK: the replica's side

    /// A TLS connection to `host:port` for the replication link, which speaks plain bytes on a
    /// blocking socket of its own: the link gets one end of a socket pair, and the event loop
    /// carries bytes between the other end and the TLS connection.
    func dial(host: String, port: Int, timeoutMs: Int, group: EventLoopGroup) throws -> Int32 {
        guard let context = clientContext.withLock({ $0 }) else { throw SetupError(description: "TLS is not configured") }
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else {
            throw SetupError(description: String(cString: strerror(errno)))
        }
        let inner = fds[1]
        do {
            let tlsChannel = try ClientBootstrap(group: group)
                .connectTimeout(.milliseconds(Int64(timeoutMs)))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
                }
                .connect(host: host, port: port).wait()
            let pairChannel = try ClientBootstrap(group: tlsChannel.eventLoop).withConnectedSocket(inner).wait()
            try tlsChannel.pipeline.addHandler(Relay(to: pairChannel)).wait()
            try pairChannel.pipeline.addHandler(Relay(to: tlsChannel)).wait()
            return fds[0]
        } catch {
            Glibc.close(fds[0])
            Glibc.close(inner)
            throw SetupError(description: "\(error)")
        }
    }
}

/// Passes every byte read on one channel to another, and closes the other when one closes.
private final class Relay: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let other: Channel

    init(to other: Channel) { self.other = other }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        other.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        other.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
        other.close(promise: nil)
    }
}
