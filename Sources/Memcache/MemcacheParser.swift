import Foundation

/// Frames and parses memcached 1.6's text and meta protocols, following memcached's own rules
/// (proto_text.c): a command line ends at "\n" (a "\r" before it is dropped), tokens are split
/// on spaces, a storage command's data block is its length plus "\r\n", and after an error on
/// a storage command with a readable length the data block is swallowed.
///
/// Stateless between calls except for the bytes still to swallow: a request whose bytes have
/// not all arrived is parsed again from its start when more come.
public struct MemcacheParser {
    public static let keyMaxLength = 250
    /// Without a newline in this many bytes, a line that is not a multi-get closes the
    /// connection (memcached's rule); a multi-get may grow to `maxGetLine`.
    public static let maxLine = 2048
    public static let maxGetLine = 16 << 20
    /// memcached's MFLAG_MAX_OPT_LENGTH, counted as it counts tokens (with a final empty one).
    static let maxMetaTokens = 20

    /// Largest item (memcached -I): key, value and memcached's own item header.
    public var itemSizeMax: Int
    private var swallow = 0
    private var tokens: [Range<Int>] = []

    public init(itemSizeMax: Int) { self.itemSizeMax = itemSizeMax }

    /// memcached's item size for a key and value: its header (48 bytes with CAS 8 more), key
    /// with a NUL, value with "\r\n".
    public static func itemSize(key: Int, value: Int) -> Int { 56 + key + 1 + value + 2 }

    /// The next request in `input[start...]`, advancing `start` past it; nil when more bytes
    /// are needed.
    public mutating func next(_ input: [UInt8], from start: inout Int) -> MemcacheRequest? {
        while true {
            if swallow > 0 {
                let n = min(swallow, input.count - start)
                swallow -= n
                start += n
                if swallow > 0 { return nil }
            }
            guard start < input.count else { return nil }
            guard let nl = input[start...].firstIndex(of: 10) else {
                if input.count - start > Self.maxLine {
                    var p = start
                    while p < input.count && input[p] == 32 { p += 1 }
                    let rest = input[p...]
                    let isGet = rest.starts(with: Array("get ".utf8)) || rest.starts(with: Array("gets ".utf8))
                    if p - start > 100 || !isGet || input.count - start > Self.maxGetLine { return .close }
                }
                return nil
            }
            var end = nl
            if end > start && input[end - 1] == 13 { end -= 1 }
            tokenize(input, start, end)
            let lineEnd = nl + 1
            let (request, dataLength) = parse(input, lineEnd: lineEnd)
            if let dataLength {
                // A storage command: its data block and "\r\n" must be here too.
                guard input.count - lineEnd >= dataLength + 2 else { return nil }
                start = lineEnd + dataLength + 2
                return complete(request, input, dataStart: lineEnd, length: dataLength)
            }
            start = lineEnd
            if let request { return request }
        }
    }

    private mutating func tokenize(_ input: [UInt8], _ from: Int, _ to: Int) {
        tokens.removeAll(keepingCapacity: true)
        var s = from
        var i = from
        while i < to {
            if input[i] == 32 {
                if s != i { tokens.append(s..<i) }
                s = i + 1
            }
            i += 1
        }
        if s != to { tokens.append(s..<to) }
    }

    /// Checks the data block of a storage request and fills it in.
    private func complete(_ request: MemcacheRequest?, _ input: [UInt8], dataStart: Int, length: Int) -> MemcacheRequest {
        let valid = input[dataStart + length] == 13 && input[dataStart + length + 1] == 10
        let data = input[dataStart..<(dataStart + length)]
        switch request {
        case .store(let kind, let key, let flags, let exptime, let cas, _, let noreply):
            guard valid else { return .reply("CLIENT_ERROR bad data chunk", noreply: noreply) }
            return .store(kind, key: key, flags: flags, exptime: exptime, cas: cas, data: data, noreply: noreply)
        case .metaSet(let key, let flags, _):
            guard valid else { return .reply("CLIENT_ERROR bad data chunk", noreply: false) }
            return .metaSet(key: key, flags: flags, data: data)
        default:
            return .reply("ERROR", noreply: false)
        }
    }

    @inline(__always) private func token(_ input: [UInt8], _ i: Int) -> ArraySlice<UInt8> { input[tokens[i]] }

    private func tokenIs(_ input: [UInt8], _ i: Int, _ s: StaticString) -> Bool {
        let r = tokens[i]
        guard r.count == s.utf8CodeUnitCount else { return false }
        return s.withUTF8Buffer { b in
            var j = 0
            for k in r { if input[k] != b[j] { return false }; j += 1 }
            return true
        }
    }

    /// The request of the line in `tokens`, and for a storage command the length of the data
    /// block that must follow. A nil request with no length means nothing to answer.
    private mutating func parse(_ input: [UInt8], lineEnd: Int) -> (MemcacheRequest?, Int?) {
        let ntokens = tokens.count + 1   // memcached counts a final empty token
        guard !tokens.isEmpty else { return (.reply("ERROR", noreply: false), nil) }
        func error() -> (MemcacheRequest?, Int?) { (.reply("ERROR", noreply: false), nil) }
        // Command names are short: the String stays inline, without an allocation.
        let command = tokens[0].count <= 15 ? String(decoding: token(input, 0), as: UTF8.self) : ""

        switch command {
        case "get", "gets":
            guard ntokens >= 3 else { return error() }
            let keys = (1..<tokens.count).map { token(input, $0) }
            return (.retrieve(command == "get" ? .get : .gets, exptime: 0, keys: keys), nil)
        case "gat", "gats":
            guard ntokens >= 3 else { return error() }
            guard let exptime = MemcacheNumber.signed32(token(input, 1)) else {
                return (.reply("CLIENT_ERROR invalid exptime argument", noreply: false), nil)
            }
            let keys = (2..<tokens.count).map { token(input, $0) }
            return (.retrieve(command == "gat" ? .gat : .gats, exptime: exptime, keys: keys), nil)
        case "set", "add", "replace", "append", "prepend", "cas":
            let kind: MemcacheRequest.Store
            switch command {
            case "set": kind = .set
            case "add": kind = .add
            case "replace": kind = .replace
            case "append": kind = .append
            case "prepend": kind = .prepend
            default: kind = .cas
            }
            let base = kind == .cas ? 7 : 6
            guard ntokens == base || ntokens == base + 1 else { return error() }
            return parseStore(input, kind)
        case "incr", "decr":
            guard ntokens == 4 || ntokens == 5 else { return error() }
            let noreply = noreplyToken(input)
            guard tokens[1].count <= Self.keyMaxLength else { return (.reply("CLIENT_ERROR bad command line format", noreply: noreply), nil) }
            guard let delta = MemcacheNumber.unsigned64(token(input, 2)) else {
                return (.reply("CLIENT_ERROR invalid numeric delta argument", noreply: noreply), nil)
            }
            return (.arithmetic(incr: command == "incr", key: token(input, 1), delta: delta, noreply: noreply), nil)
        case "touch":
            guard ntokens == 4 || ntokens == 5 else { return error() }
            let noreply = noreplyToken(input)
            guard tokens[1].count <= Self.keyMaxLength else { return (.reply("CLIENT_ERROR bad command line format", noreply: noreply), nil) }
            guard let exptime = MemcacheNumber.signed32(token(input, 2)) else {
                return (.reply("CLIENT_ERROR invalid exptime argument", noreply: noreply), nil)
            }
            return (.touch(key: token(input, 1), exptime: exptime, noreply: noreply), nil)
        case "delete":
            guard ntokens >= 3 && ntokens <= 5 else { return error() }
            let noreply = noreplyToken(input)
            if ntokens > 3 {
                let holdIsZero = tokenIs(input, 2, "0")
                let valid = (ntokens == 4 && (holdIsZero || noreply)) || (ntokens == 5 && holdIsZero && noreply)
                guard valid else {
                    return (.reply("CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]", noreply: noreply), nil)
                }
            }
            guard tokens[1].count <= Self.keyMaxLength else { return (.reply("CLIENT_ERROR bad command line format", noreply: noreply), nil) }
            return (.delete(key: token(input, 1), noreply: noreply), nil)
        case "flush_all":
            guard ntokens >= 2 && ntokens <= 4 else { return error() }
            let noreply = noreplyToken(input)
            var delay: Int32 = 0
            if ntokens != (noreply ? 3 : 2) {
                guard let d = MemcacheNumber.signed32(token(input, 1)) else {
                    return (.reply("CLIENT_ERROR invalid exptime argument", noreply: noreply), nil)
                }
                delay = d
            }
            return (.flushAll(delay: delay, noreply: noreply), nil)
        case "version":
            return (.version, nil)
        case "verbosity":
            guard ntokens == 3 || ntokens == 4 else { return error() }
            let noreply = noreplyToken(input)
            guard MemcacheNumber.unsigned64(token(input, 1)) != nil else {
                return (.reply("CLIENT_ERROR bad command line format", noreply: noreply), nil)
            }
            return (.verbosity(noreply: noreply), nil)
        case "stats":
            let args = (1..<tokens.count).map { String(decoding: token(input, $0), as: UTF8.self) }
            return (.stats(arguments: args), nil)
        case "quit":
            return (.quit, nil)
        case "shutdown":
            return (.reply("ERROR: shutdown not enabled", noreply: false), nil)
        case "mn":
            return (.metaNoop, nil)
        case "me":
            guard ntokens >= 3 else { return (.reply("CLIENT_ERROR bad command line format", noreply: false), nil) }
            return parseMeta(input)
        case "mg", "ms", "md", "ma":
            guard ntokens >= 3 else { return error() }
            return parseMeta(input)
        default:
            return error()
        }
    }

    private func noreplyToken(_ input: [UInt8]) -> Bool { tokenIs(input, tokens.count - 1, "noreply") }

    private mutating func parseStore(_ input: [UInt8], _ kind: MemcacheRequest.Store) -> (MemcacheRequest?, Int?) {
        let noreply = noreplyToken(input)
        func bad() -> (MemcacheRequest?, Int?) { (.reply("CLIENT_ERROR bad command line format", noreply: noreply), nil) }
        guard tokens[1].count <= Self.keyMaxLength else { return bad() }
        guard let flags = MemcacheNumber.flags(token(input, 2)),
              let exptime = MemcacheNumber.signed32(token(input, 3)),
              let vlen = MemcacheNumber.signed32(token(input, 4)) else { return bad() }
        var cas: UInt64 = 0
        if kind == .cas {
            guard let c = MemcacheNumber.unsigned64(token(input, 5)) else { return bad() }
            cas = c
        }
        guard vlen >= 0 && vlen <= Int32.max - 2 else { return bad() }
        let key = token(input, 1)
        if Self.itemSize(key: key.count, value: Int(vlen)) > itemSizeMax {
            swallow = Int(vlen) + 2
            return (.tooLarge(key: key, dropExisting: kind == .set, noreply: noreply), nil)
        }
        return (.store(kind, key: key, flags: flags, exptime: exptime, cas: cas, data: [], noreply: noreply), Int(vlen))
    }

    // MARK: meta

    private mutating func parseMeta(_ input: [UInt8]) -> (MemcacheRequest?, Int?) {
        let command = input[tokens[0].lowerBound + 1]
        let ntokens = tokens.count + 1
        let rawKey = token(input, 1)
        guard rawKey.count <= Self.keyMaxLength else { return (.reply("CLIENT_ERROR bad command line format", noreply: false), nil) }

        if command == UInt8(ascii: "e") {
            // me <key> [b]
            var key = Array(rawKey)
            if tokens.count > 2 && tokenIs(input, 2, "b") {
                guard let k = Self.decodeBase64(rawKey) else { return (.reply("CLIENT_ERROR error decoding key", noreply: false), nil) }
                key = k
            }
            return (.metaDebug(key: key), nil)
        }

        var firstFlag = 2
        var vlen = 0
        if command == UInt8(ascii: "s") {
            guard ntokens > 3 else { return (.reply("CLIENT_ERROR bad command line format", noreply: false), nil) }
            guard let n = MemcacheNumber.signed32(token(input, 2)), n >= 0, n <= Int32.max - 2 else {
                return (.reply("CLIENT_ERROR bad command line format", noreply: false), nil)
            }
            vlen = Int(n)
            firstFlag = 3
        }
        // After an error, ms swallows its data block.
        func fail(_ message: String) -> (MemcacheRequest?, Int?) {
            if command == UInt8(ascii: "s") { swallow = vlen + 2 }
            return (.reply(message, noreply: false), nil)
        }
        guard ntokens <= Self.maxMetaTokens else {
            return fail(command == UInt8(ascii: "g") ? "CLIENT_ERROR options flags are too long" : "CLIENT_ERROR options flags too long")
        }
        var flags = MetaFlags()
        if let message = parseMetaFlags(input, from: firstFlag, into: &flags) {
            // md and ma of memcached 1.6.18 answer every flag error the same way.
            let generic = command == UInt8(ascii: "d") || command == UInt8(ascii: "a")
            return fail(generic ? "CLIENT_ERROR invalid or duplicate flag" : message)
        }
        var key = Array(rawKey)
        if flags.base64Key {
            guard let k = Self.decodeBase64(rawKey) else { return fail("CLIENT_ERROR error decoding key") }
            key = k
        }
        if let o = flags.opaque, o.count > 32 { return fail("CLIENT_ERROR opaque token too long") }
        switch command {
        case UInt8(ascii: "g"):
            return (.metaGet(key: key, flags: flags), nil)
        case UInt8(ascii: "d"):
            return (.metaDelete(key: key, flags: flags), nil)
        case UInt8(ascii: "a"):
            if let m = flags.mode, !"Ii+Dd-".utf8.contains(m) { return fail("CLIENT_ERROR invalid mode for ma M token") }
            return (.metaArithmetic(key: key, flags: flags), nil)
        case UInt8(ascii: "s"):
            if let m = flags.mode, !"EAPRS".utf8.contains(m) { return fail("CLIENT_ERROR invalid mode for ms M token") }
            if Self.itemSize(key: key.count, value: vlen) > itemSizeMax {
                swallow = vlen + 2
                return (.reply("SERVER_ERROR object too large for cache", noreply: false), nil)
            }
            return (.metaSet(key: key, flags: flags, data: []), vlen)
        default:
            return (.reply("ERROR", noreply: false), nil)
        }
    }

    /// memcached's _meta_flag_preparse: every flag once, known letters only, numeric tokens
    /// that parse. Returns the error line, or nil.
    private func parseMetaFlags(_ input: [UInt8], from: Int, into f: inout MetaFlags) -> String? {
        var seen = [Bool](repeating: false, count: 128)
        var badToken = false
        for i in from..<tokens.count {
            let tok = token(input, i)
            let c = tok.first!
            let value = tok.dropFirst()
            if c < 128 {
                if seen[Int(c)] { return "CLIENT_ERROR duplicate flag" }
                seen[Int(c)] = true
            }
            switch c {
            case UInt8(ascii: "b"): f.base64Key = true
            case UInt8(ascii: "N"):
                if let v = MemcacheNumber.signed32(value) { f.vivify = v } else { badToken = true }
            case UInt8(ascii: "T"):
                if let v = MemcacheNumber.signed32(value) { f.ttl = v } else { badToken = true }
            case UInt8(ascii: "R"):
                if let v = MemcacheNumber.signed32(value) { f.recache = v } else { badToken = true }
            case UInt8(ascii: "O"): f.opaque = value
            case UInt8(ascii: "l"), UInt8(ascii: "P"), UInt8(ascii: "L"), UInt8(ascii: "k"), UInt8(ascii: "s"),
                 UInt8(ascii: "t"), UInt8(ascii: "c"), UInt8(ascii: "f"), UInt8(ascii: "h"):
                break
            case UInt8(ascii: "v"): f.returnValue = true
            case UInt8(ascii: "u"): f.noUpdate = true
            case UInt8(ascii: "q"): f.quiet = true
            case UInt8(ascii: "C"):
                if let v = MemcacheNumber.unsigned64(value) { f.compareCas = v } else { badToken = true }
            case UInt8(ascii: "M"):
                guard value.count == 1 else { return "CLIENT_ERROR incorrect length for M token" }
                f.mode = value.first
            case UInt8(ascii: "J"):
                if let v = MemcacheNumber.unsigned64(value) { f.initial = v } else { badToken = true }
            case UInt8(ascii: "D"):
                if let v = MemcacheNumber.unsigned64(value) { f.delta = v } else { badToken = true }
            case UInt8(ascii: "I"): f.invalidate = true
            case UInt8(ascii: "F"):
                if let v = MemcacheNumber.flags(value) { f.clientFlags = v } else { badToken = true }
            default:
                return "CLIENT_ERROR invalid flag"
            }
            f.list.append((c, value))
        }
        return badToken ? "CLIENT_ERROR bad token in command line format" : nil
    }

    public static func encodeBase64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    static func decodeBase64(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        guard let d = Data(base64Encoded: Data(bytes)), !d.isEmpty else { return nil }
        return [UInt8](d)
    }
}
