/// The cluster bus's messages in Redis 7.0's binary layout, so that Larder nodes and redis-server
/// nodes gossip with each other. Every message starts with the same 2256-byte header (numbers in
/// network byte order):
///
///     0 "RCmb"  4 totlen u32  8 ver u16 (1)  10 port u16  12 type u16  14 count u16
///     16 currentEpoch u64  24 configEpoch u64  32 offset u64  40 sender [40]
///     80 myslots [2048]  2128 slaveof [40]  2168 myip [46]  2214 extensions u16
///     2216 unused [30]  2246 pport u16  2248 cport u16  2250 flags u16  2252 state u8
///     2253 mflags [3]  2256 data
///
/// PING, PONG and MEET carry `count` gossip entries of 104 bytes (name [40], ping_sent u32,
/// pong_received u32, ip [46], port, cport, flags, pport u16, unused u16) and then
/// `extensions` extensions (u32 length, u16 type, u16 unused, data padded to 8). Redis 7.0 knows
/// one, type 0: the sender's announced hostname, NUL-terminated; others are read past. FAIL carries a node name, UPDATE a config epoch, a name and
/// a slot bitmap, PUBLISH two lengths and the channel and message.
///
/// Decoding checks every length against `totlen` before it reads: a message cut short or
/// claiming more than it holds is refused whole (the link is then dropped), never read past.
enum ClusterMessage {
    static let headerSize = 2256
    static let gossipSize = 104
    static let nameLength = 40
    static let ipLength = 46
    static let slotBytes = 2048

    enum Kind: UInt16 {
        case ping = 0, pong = 1, meet = 2, fail = 3, publish = 4, failoverAuthRequest = 5
        case failoverAuthAck = 6, update = 7, mfStart = 8, module = 9, publishShard = 10
    }

    /// Node flags as the bus carries them (and CLUSTER NODES names them).
    struct NodeFlags: OptionSet, Sendable, Hashable {
        let rawValue: UInt16
        static let master = NodeFlags(rawValue: 1)
        static let replica = NodeFlags(rawValue: 2)
        static let pfail = NodeFlags(rawValue: 4)
        static let fail = NodeFlags(rawValue: 8)
        static let myself = NodeFlags(rawValue: 16)
        static let handshake = NodeFlags(rawValue: 32)
        static let noAddress = NodeFlags(rawValue: 64)
        static let meet = NodeFlags(rawValue: 128)
        static let migrateTo = NodeFlags(rawValue: 256)
        static let noFailover = NodeFlags(rawValue: 512)
    }

    /// mflags[0]: a paused primary (manual failover), a forced ACK, extension data understood.
    static let flagPaused: UInt8 = 1
    static let flagForceAck: UInt8 = 2
    static let flagExtData: UInt8 = 4

    struct Header: Sendable {
        var type: UInt16 = 0
        var port: UInt16 = 0
        var count: UInt16 = 0
        var currentEpoch: UInt64 = 0
        var configEpoch: UInt64 = 0
        var offset: UInt64 = 0
        var sender = ""
        var slots = [UInt8](repeating: 0, count: slotBytes)
        var primary = ""          // slaveof: empty for a primary
        var ip = ""               // myip: empty unless announced
        var pport: UInt16 = 0
        var cport: UInt16 = 0
        var flags = NodeFlags()
        var stateOK = false
        var mflags: UInt8 = 0
        /// PING, PONG, MEET: the hostname extension ("" when the message has none).
        var hostname = ""
    }

    struct Gossip: Sendable {
        var name: String
        var pingSent: UInt32
        var pongReceived: UInt32
        var ip: String
        var port: UInt16
        var cport: UInt16
        var flags: NodeFlags
        var pport: UInt16
    }

    enum Body: Sendable {
        case gossip([Gossip])
        case fail(node: String)
        case update(configEpoch: UInt64, node: String, slots: [UInt8])
        case publish(channel: [UInt8], message: [UInt8])
        case none
    }

    struct Message: Sendable {
        var header: Header
        var body: Body
    }

    // MARK: encoding

    static func encode(_ h: Header, _ body: Body) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: headerSize)
        out[0] = UInt8(ascii: "R"); out[1] = UInt8(ascii: "C"); out[2] = UInt8(ascii: "m"); out[3] = UInt8(ascii: "b")
        put16(&out, 8, 1)
        put16(&out, 10, h.port)
        put16(&out, 12, h.type)
        put64(&out, 16, h.currentEpoch)
        put64(&out, 24, h.configEpoch)
        put64(&out, 32, h.offset)
        putString(&out, 40, h.sender, nameLength)
        out.replaceSubrange(80..<(80 + slotBytes), with: h.slots)
        putString(&out, 2128, h.primary, nameLength)
        putString(&out, 2168, h.ip, ipLength)
        put16(&out, 2246, h.pport)
        put16(&out, 2248, h.cport)
        put16(&out, 2250, h.flags.rawValue)
        out[2252] = h.stateOK ? 0 : 1   // CLUSTER_OK is 0
        out[2253] = h.mflags
        var count: UInt16 = 0
        var extensions: [UInt8] = []
        switch body {
        case .gossip(let entries):
            if !h.hostname.isEmpty {
                // u32 length, u16 type 0, u16 unused, then the name, NUL-terminated, padded to 8.
                let name = Array(h.hostname.utf8)
                let size = 8 + (name.count + 1 + 7) / 8 * 8
                extensions = [UInt8](repeating: 0, count: size)
                put32(&extensions, 0, UInt32(size))
                extensions.replaceSubrange(8..<(8 + name.count), with: name)
                put16(&out, 2214, 1)
            }
            count = UInt16(entries.count)
            for g in entries {
                var e = [UInt8](repeating: 0, count: gossipSize)
                putString(&e, 0, g.name, nameLength)
                put32(&e, 40, g.pingSent)
                put32(&e, 44, g.pongReceived)
                putString(&e, 48, g.ip, ipLength)
                put16(&e, 94, g.port)
                put16(&e, 96, g.cport)
                put16(&e, 98, g.flags.rawValue)
                put16(&e, 100, g.pport)
                out += e
            }
            out += extensions
        case .fail(let node):
            var e = [UInt8](repeating: 0, count: nameLength)
            putString(&e, 0, node, nameLength)
            out += e
        case .update(let epoch, let node, let slots):
            var e = [UInt8](repeating: 0, count: 8 + nameLength)
            put64(&e, 0, epoch)
            putString(&e, 8, node, nameLength)
            out += e
            out += slots
        case .publish(let channel, let message):
            var e = [UInt8](repeating: 0, count: 8)
            put32(&e, 0, UInt32(channel.count))
            put32(&e, 4, UInt32(message.count))
            out += e
            out += channel
            out += message
        case .none:
            break
        }
        put16(&out, 14, count)
        put32(&out, 4, UInt32(out.count))
        return out
    }

    // MARK: decoding

    /// The total length a buffer's first message claims, once its first 8 bytes are in; nil
    /// for a buffer that does not start with the signature.
    static func claimedLength(_ b: ArraySlice<UInt8>) -> Int? {
        guard b.count >= 8 else { return 0 }
        let s = b.startIndex
        guard b[s] == UInt8(ascii: "R"), b[s + 1] == UInt8(ascii: "C"), b[s + 2] == UInt8(ascii: "m"),
              b[s + 3] == UInt8(ascii: "b") else { return nil }
        return Int(get32(b, 4))
    }

    enum DecodeError: Error, CustomStringConvertible {
        case tooShort(Int), version(Int), length(type: UInt16, expected: Int, got: Int)
        var description: String {
            switch self {
            case .tooShort(let n): return "message of \(n) bytes, shorter than a header"
            case .version(let v): return "protocol version \(v)"
            case .length(let t, let e, let g): return "message of type \(t) is \(g) bytes where \(e) were expected"
            }
        }
    }

    /// One whole message (`b` is exactly `totlen` bytes).
    static func decode(_ b: ArraySlice<UInt8>) throws -> Message {
        let total = b.count
        guard total >= headerSize else { throw DecodeError.tooShort(total) }
        let version = get16(b, 8)
        guard version == 1 else { throw DecodeError.version(Int(version)) }
        var h = Header()
        h.port = get16(b, 10)
        h.type = get16(b, 12)
        h.count = get16(b, 14)
        h.currentEpoch = get64(b, 16)
        h.configEpoch = get64(b, 24)
        h.offset = get64(b, 32)
        h.sender = getString(b, 40, nameLength)
        let s = b.startIndex
        h.slots = Array(b[(s + 80)..<(s + 80 + slotBytes)])
        h.primary = getString(b, 2128, nameLength)
        h.ip = getString(b, 2168, ipLength)
        let extensions = Int(get16(b, 2214))
        h.pport = get16(b, 2246)
        h.cport = get16(b, 2248)
        h.flags = NodeFlags(rawValue: get16(b, 2250))
        h.stateOK = b[s + 2252] == 0
        h.mflags = b[s + 2253]
        let body: Body
        switch Kind(rawValue: h.type) {
        case .ping, .pong, .meet:
            let count = Int(h.count)
            var at = headerSize + count * gossipSize
            guard at <= total else { throw DecodeError.length(type: h.type, expected: at, got: total) }
            // Extensions follow the gossip (when mflags says so): each says its own length.
            if h.mflags & flagExtData != 0 {
                for _ in 0..<extensions {
                    guard at + 8 <= total else { throw DecodeError.length(type: h.type, expected: at + 8, got: total) }
                    let length = Int(get32(b, at))
                    guard length >= 8, at + length <= total else {
                        throw DecodeError.length(type: h.type, expected: at + max(length, 8), got: total)
                    }
                    if get16(b, at + 4) == 0 { h.hostname = getString(b, at + 8, length - 8) }
                    at += length
                }
            }
            guard at == total else { throw DecodeError.length(type: h.type, expected: at, got: total) }
            var entries: [Gossip] = []
            entries.reserveCapacity(count)
            for i in 0..<count {
                let o = headerSize + i * gossipSize
                entries.append(Gossip(name: getString(b, o, nameLength), pingSent: get32(b, o + 40),
                                      pongReceived: get32(b, o + 44), ip: getString(b, o + 48, ipLength),
                                      port: get16(b, o + 94), cport: get16(b, o + 96),
                                      flags: NodeFlags(rawValue: get16(b, o + 98)), pport: get16(b, o + 100)))
            }
            body = .gossip(entries)
        case .fail:
            guard total == headerSize + nameLength else {
                throw DecodeError.length(type: h.type, expected: headerSize + nameLength, got: total)
            }
            body = .fail(node: getString(b, headerSize, nameLength))
        case .update:
            let expected = headerSize + 8 + nameLength + slotBytes
            guard total == expected else { throw DecodeError.length(type: h.type, expected: expected, got: total) }
            let o = s + headerSize + 8 + nameLength
            body = .update(configEpoch: get64(b, headerSize), node: getString(b, headerSize + 8, nameLength),
                           slots: Array(b[o..<(o + slotBytes)]))
        case .publish, .publishShard:
            guard total >= headerSize + 8 else { throw DecodeError.length(type: h.type, expected: headerSize + 8, got: total) }
            let channelLength = Int(get32(b, headerSize))
            let messageLength = Int(get32(b, headerSize + 4))
            let expected = headerSize + 8 + channelLength + messageLength
            guard total == expected else {
                throw DecodeError.length(type: h.type, expected: expected, got: total)
            }
            let o = s + headerSize + 8
            body = .publish(channel: Array(b[o..<(o + channelLength)]),
                            message: Array(b[(o + channelLength)..<(o + channelLength + messageLength)]))
        case .failoverAuthRequest, .failoverAuthAck, .mfStart:
            guard total == headerSize else { throw DecodeError.length(type: h.type, expected: headerSize, got: total) }
            body = .none
        case .module, nil:
            body = .none   // not served: read past
        }
        return Message(header: h, body: body)
    }

    // MARK: bytes

    static func put16(_ b: inout [UInt8], _ at: Int, _ v: UInt16) {
        b[at] = UInt8(v >> 8); b[at + 1] = UInt8(v & 0xff)
    }

    static func put32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) {
        for i in 0..<4 { b[at + i] = UInt8((v >> (24 - 8 * UInt32(i))) & 0xff) }
    }

    static func put64(_ b: inout [UInt8], _ at: Int, _ v: UInt64) {
        for i in 0..<8 { b[at + i] = UInt8((v >> (56 - 8 * UInt64(i))) & 0xff) }
    }

    static func putString(_ b: inout [UInt8], _ at: Int, _ s: String, _ max: Int) {
        for (i, c) in s.utf8.prefix(max).enumerated() { b[at + i] = c }
    }

    static func get16(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt16 {
        let s = b.startIndex + at
        return UInt16(b[s]) << 8 | UInt16(b[s + 1])
    }

    static func get32(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt32 {
        let s = b.startIndex + at
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(b[s + i]) }
        return v
    }

    static func get64(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt64 {
        let s = b.startIndex + at
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(b[s + i]) }
        return v
    }

    /// A NUL-padded field as text (up to its first NUL).
    static func getString(_ b: ArraySlice<UInt8>, _ at: Int, _ max: Int) -> String {
        let s = b.startIndex + at
        let field = b[s..<(s + max)]
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[field.startIndex..<end], as: UTF8.self)
    }
}
