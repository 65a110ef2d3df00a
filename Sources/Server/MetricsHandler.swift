import NIOCore
import NIOHTTP1
import Engine

/// `metrics-port`: GET /metrics answers the server's figures in Prometheus's text format
/// (Engine.prometheusText); anything else, 404. One small HTTP/1.1 handler on SwiftNIO's
/// codec, so that Prometheus scrapes Larder itself, with no exporter beside it.
final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let engine: Engine
    private var path = ""
    private var method = HTTPMethod.GET
    private var keepAlive = true

    init(engine: Engine) { self.engine = engine }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
            method = head.method
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            let found = method == .GET && (path == "/metrics" || path == "/")
            let text = found ? engine.prometheusText() : "Not found: metrics are at /metrics\n"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
            headers.add(name: "Content-Length", value: String(text.utf8.count))
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: found ? .ok : .notFound,
                                                                headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive { done.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
