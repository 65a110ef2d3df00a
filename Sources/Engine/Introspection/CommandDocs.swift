import RESP

/// What COMMAND DOCS and COMMAND INFO describe beyond the table's own columns: each command's
/// argument tree, key specs, tips and doc flags, read from `CommandDocsTable.text`.
///
/// Tools walk these (redis-cli 7.2 builds its hints from the argument trees, cluster clients
/// route by the key specs and tips), so their structure is Redis 7.0's: every name, type, token,
/// flag and version as redis-server answers (test_command_docs compares them all). The prose
/// fields (summaries, complexity, history, key-spec notes) are Larder's own or left out.
struct CommandDoc: Sendable {
    var since = ""
    var arguments: [ArgumentDoc] = []
    var keySpecs: [KeySpecDoc] = []
    var tips: [String] = []
    var docFlags: [String] = []
    var deprecatedSince: String?
    var replacedBy: String?
}

struct ArgumentDoc: Sendable, Equatable {
    var name = ""
    var type = ""
    var keySpecIndex: Int?
    var token: String?
    var since: String?
    var deprecatedSince: String?
    var flags: [String] = []   // optional, multiple, multiple_token, in Redis's order
    var children: [ArgumentDoc] = []
}

struct KeySpecDoc: Sendable, Equatable {
    enum Begin: Sendable, Equatable { case index(Int), keyword(String, startFrom: Int), unknown }
    enum Find: Sendable, Equatable { case range(lastKey: Int, step: Int, limit: Int), keynum(index: Int, first: Int, step: Int), unknown }
    var flags: [String]
    var begin: Begin
    var find: Find

    /// The argument indexes this spec covers in a call, or nil when it cannot tell
    /// (an unknown search), as Redis's key-spec walk finds them.
    func keys(_ args: CommandArguments) -> [Int]? {
        let argc = args.count
        var start: Int
        switch begin {
        case .unknown: return nil
        case .index(let i): start = i
        case .keyword(let word, let from):
            let indexes = from >= 0 ? Array(stride(from: from, to: argc, by: 1))
                                    : Array(stride(from: argc + from, through: 1, by: -1))
            let lower = word.lowercased()
            guard let at = indexes.first(where: { $0 >= 0 && args.string($0).lowercased() == lower }) else { return [] }
            start = at + 1
        }
        guard start < argc else { return [] }
        switch find {
        case .unknown: return nil
        case .range(let lastKey, let step, let limit):
            var last: Int
            if lastKey >= 0 { last = start + lastKey }
            else if limit <= 1 { last = argc + lastKey }
            else { last = start + (argc - start) / limit - 1 }
            last = min(last, argc - 1)
            guard last >= start else { return [] }
            return Array(stride(from: start, through: last, by: max(step, 1)))
        case .keynum(let index, let first, let step):
            guard start + index < argc, let n = Int(args.string(start + index)), n > 0 else { return [] }
            let from = start + first
            let last = min(from + (n - 1) * max(step, 1), argc - 1)
            guard from <= last else { return [] }
            return Array(stride(from: from, through: last, by: max(step, 1)))
        }
    }
}

enum CommandDocs {
    /// Every command's description by name ("set", "config|get"), parsed once.
    static let table: [String: CommandDoc] = parse(CommandDocsTable.text).docs

    /// Lines the table's notation could not read (a test keeps this empty).
    static var parseErrors: [String] { parse(CommandDocsTable.text).errors }

    static func doc(_ name: String) -> CommandDoc { table[name] ?? CommandDoc() }

    // MARK: reading the table

    /// The table is one record per command: its name on a line of its own, then indented
    /// lines `since V`, `args …`, `keys …` (one per key spec), `tips …`, `docflags …`, `deprecated V`,
    /// `replaced-by TEXT`.
    ///
    /// Arguments: `name:type`, or `TOKEN=name:type` for one after a token; a bare upper-case
    /// word is a pure token named as its lower case, `TOKEN=name` a pure token named otherwise;
    /// then `#n` key-spec index, `@v` since, `!v` deprecated since, `?` optional, `*` multiple,
    /// `^` multiple_token; `(a|b)` a oneof, `{a b}` a block. Names and tokens outside
    /// [A-Za-z0-9_-] are quoted.
    ///
    /// Key specs: `FLAG,FLAG begin find` with begin `index:N`, `keyword:WORD,FROM` or `unknown`
    /// and find `range:LAST,STEP,LIMIT`, `keynum:INDEX,FIRST,STEP` or `unknown`.
    static func parse(_ text: String) -> (docs: [String: CommandDoc], errors: [String]) {
        var docs: [String: CommandDoc] = [:]
        var errors: [String] = []
        var name: String?
        var doc = CommandDoc()
        func flush() { if let name { docs[name] = doc } }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            guard line.hasPrefix(" ") else {
                flush()
                name = line
                doc = CommandDoc()
                continue
            }
            let trimmed = line.drop { $0 == " " }
            let field = trimmed.prefix { $0 != " " }
            let value = String(trimmed.dropFirst(field.count + 1))
            switch field {
            case "args":
                var parser = ArgumentParser(Array(value.utf8))
                if let args = parser.list(separator: UInt8(ascii: " "), end: nil) {
                    doc.arguments = args
                } else {
                    errors.append("\(name ?? "?"): \(value)")
                }
            case "keys":
                if let spec = keySpec(value) { doc.keySpecs.append(spec) } else { errors.append("\(name ?? "?"): \(value)") }
            case "since": doc.since = value
            case "tips": doc.tips = value.split(separator: " ").map(String.init)
            case "docflags": doc.docFlags = value.split(separator: " ").map(String.init)
            case "deprecated": doc.deprecatedSince = value
            case "replaced-by": doc.replacedBy = value
            default: errors.append("\(name ?? "?"): \(line)")
            }
        }
        flush()
        return (docs, errors)
    }

    static func keySpec(_ text: String) -> KeySpecDoc? {
        let parts = text.split(separator: " ").map(String.init)
        guard parts.count == 3 else { return nil }
        func numbers(_ s: String, _ prefix: String) -> [Int]? {
            guard s.hasPrefix(prefix) else { return nil }
            let n = s.dropFirst(prefix.count).split(separator: ",").compactMap { Int($0) }
            return n
        }
        let begin: KeySpecDoc.Begin
        if parts[1] == "unknown" { begin = .unknown }
        else if let n = numbers(parts[1], "index:"), n.count == 1 { begin = .index(n[0]) }
        else if parts[1].hasPrefix("keyword:") {
            let kw = parts[1].dropFirst("keyword:".count).split(separator: ",")
            guard kw.count == 2, let from = Int(kw[1]) else { return nil }
            begin = .keyword(String(kw[0]), startFrom: from)
        } else { return nil }
        let find: KeySpecDoc.Find
        if parts[2] == "unknown" { find = .unknown }
        else if let n = numbers(parts[2], "range:"), n.count == 3 { find = .range(lastKey: n[0], step: n[1], limit: n[2]) }
        else if let n = numbers(parts[2], "keynum:"), n.count == 3 { find = .keynum(index: n[0], first: n[1], step: n[2]) }
        else { return nil }
        return KeySpecDoc(flags: parts[0].split(separator: ",").map(String.init), begin: begin, find: find)
    }

    /// Reads the argument notation above; nil on anything it does not expect.
    struct ArgumentParser {
        let s: [UInt8]
        var i = 0
        init(_ s: [UInt8]) { self.s = s }

        var next: UInt8? { i < s.count ? s[i] : nil }

        mutating func list(separator: UInt8, end: UInt8?) -> [ArgumentDoc]? {
            var out: [ArgumentDoc] = []
            while true {
                guard let a = argument() else { return nil }
                out.append(a)
                if next == end { i += 1; return out }   // end nil: the end of the line
                guard next == separator else { return nil }
                i += 1
            }
        }

        static func isWordByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }

        /// A bare word or a quoted string, and whether it was quoted.
        mutating func word() -> (String, quoted: Bool)? {
            if next == UInt8(ascii: "\"") {
                i += 1
                var bytes: [UInt8] = []
                while let b = next, b != UInt8(ascii: "\"") {
                    if b == UInt8(ascii: "\\") { i += 1 }
                    guard let c = next else { return nil }
                    bytes.append(c)
                    i += 1
                }
                guard next == UInt8(ascii: "\"") else { return nil }
                i += 1
                return (String(decoding: bytes, as: UTF8.self), true)
            }
            let from = i
            while let b = next, Self.isWordByte(b) { i += 1 }
            guard i > from else { return nil }
            return (String(decoding: s[from..<i], as: UTF8.self), false)
        }

        mutating func version() -> String? {
            let from = i
            while let b = next, (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: ".") { i += 1 }
            return i > from ? String(decoding: s[from..<i], as: UTF8.self) : nil
        }

        mutating func argument() -> ArgumentDoc? {
            var a = ArgumentDoc()
            guard let (first, quoted) = word() else { return nil }
            if next == UInt8(ascii: "=") {
                i += 1
                guard let (name, _) = word() else { return nil }
                a.token = first
                a.name = name
            } else if !quoted, let c = first.utf8.first, c >= 0x41 && c <= 0x5A {
                a.token = first
                a.name = first.lowercased()
            } else {
                a.name = first
            }
            if next == UInt8(ascii: ":") {
                i += 1
                guard let (type, _) = word() else { return nil }
                a.type = type
            }
            var optional = false, multiple = false, multipleToken = false
            loop: while let b = next {
                switch b {
                case UInt8(ascii: "#"):
                    i += 1
                    guard let v = version(), let n = Int(v) else { return nil }
                    a.keySpecIndex = n
                case UInt8(ascii: "@"):
                    i += 1
                    guard let v = version() else { return nil }
                    a.since = v
                case UInt8(ascii: "!"):
                    i += 1
                    guard let v = version() else { return nil }
                    a.deprecatedSince = v
                case UInt8(ascii: "?"): optional = true; i += 1
                case UInt8(ascii: "*"): multiple = true; i += 1
                case UInt8(ascii: "^"): multipleToken = true; i += 1
                default: break loop
                }
            }
            if optional { a.flags.append("optional") }
            if multiple { a.flags.append("multiple") }
            if multipleToken { a.flags.append("multiple_token") }
            if next == UInt8(ascii: "(") {
                i += 1
                guard let children = list(separator: UInt8(ascii: "|"), end: UInt8(ascii: ")")) else { return nil }
                a.type = "oneof"
                a.children = children
            } else if next == UInt8(ascii: "{") {
                i += 1
                guard let children = list(separator: UInt8(ascii: " "), end: UInt8(ascii: "}")) else { return nil }
                a.type = "block"
                a.children = children
            }
            if a.type.isEmpty {
                guard a.token != nil else { return nil }
                a.type = "pure-token"
            }
            return a
        }
    }

    // MARK: replies

    /// The fields COMMAND DOCS adds after summary, since, group and complexity, in Redis's order.
    static func docFieldCount(_ d: CommandDoc) -> Int {
        (d.docFlags.isEmpty ? 0 : 1) + (d.deprecatedSince == nil ? 0 : 1) + (d.replacedBy == nil ? 0 : 1)
            + (d.arguments.isEmpty ? 0 : 1)
    }

    static func writeDocFields(_ out: inout RESPWriter, _ d: CommandDoc) {
        if !d.docFlags.isEmpty {
            out.bulk("doc_flags")
            out.set(d.docFlags.count)
            for f in d.docFlags { out.simple(f) }
        }
        if let v = d.deprecatedSince { out.bulk("deprecated_since"); out.bulk(v) }
        if let v = d.replacedBy { out.bulk("replaced_by"); out.bulk(v) }
        if !d.arguments.isEmpty {
            out.bulk("arguments")
            writeArguments(&out, d.arguments)
        }
    }

    static func writeArguments(_ out: inout RESPWriter, _ args: [ArgumentDoc]) {
        out.array(args.count)
        for a in args {
            let fields = 2 + (a.keySpecIndex == nil ? 0 : 1) + (a.token == nil ? 0 : 1) + (a.since == nil ? 0 : 1)
                + (a.deprecatedSince == nil ? 0 : 1) + (a.flags.isEmpty ? 0 : 1) + (a.children.isEmpty ? 0 : 1)
            out.map(fields)
            out.bulk("name"); out.bulk(a.name)
            out.bulk("type"); out.bulk(a.type)
            if let k = a.keySpecIndex { out.bulk("key_spec_index"); out.integer(k) }
            if let t = a.token { out.bulk("token"); out.bulk(t) }
            if let v = a.since { out.bulk("since"); out.bulk(v) }
            if let v = a.deprecatedSince { out.bulk("deprecated_since"); out.bulk(v) }
            if !a.flags.isEmpty {
                out.bulk("flags")
                out.set(a.flags.count)
                for f in a.flags { out.simple(f) }
            }
            if !a.children.isEmpty {
                out.bulk("arguments")
                writeArguments(&out, a.children)
            }
        }
    }

    static func writeKeySpecs(_ out: inout RESPWriter, _ specs: [KeySpecDoc]) {
        out.set(specs.count)
        for k in specs {
            out.map(3)
            out.bulk("flags")
            out.set(k.flags.count)
            for f in k.flags { out.simple(f) }
            out.bulk("begin_search")
            out.map(2)
            out.bulk("type")
            switch k.begin {
            case .index(let n):
                out.bulk("index")
                out.bulk("spec"); out.map(1)
                out.bulk("index"); out.integer(n)
            case .keyword(let word, let from):
                out.bulk("keyword")
                out.bulk("spec"); out.map(2)
                out.bulk("keyword"); out.bulk(word)
                out.bulk("startfrom"); out.integer(from)
            case .unknown:
                out.bulk("unknown")
                out.bulk("spec"); out.map(0)
            }
            out.bulk("find_keys")
            out.map(2)
            out.bulk("type")
            switch k.find {
            case .range(let last, let step, let limit):
                out.bulk("range")
                out.bulk("spec"); out.map(3)
                out.bulk("lastkey"); out.integer(last)
                out.bulk("keystep"); out.integer(step)
                out.bulk("limit"); out.integer(limit)
            case .keynum(let index, let first, let step):
                out.bulk("keynum")
                out.bulk("spec"); out.map(3)
                out.bulk("keynumidx"); out.integer(index)
                out.bulk("firstkey"); out.integer(first)
                out.bulk("keystep"); out.integer(step)
            case .unknown:
                out.bulk("unknown")
                out.bulk("spec"); out.map(0)
            }
        }
    }
}
