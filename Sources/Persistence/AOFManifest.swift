/// Redis 7's multi-part AOF manifest: which base file and which incremental files, in order,
/// make up the append-only file, one line each: `file <name> seq <n> type <b|h|i>`.
public struct AOFManifest: Equatable, Sendable {
    public enum Kind: String, Sendable { case base = "b", history = "h", incremental = "i" }

    public struct Entry: Equatable, Sendable {
        public var name: String
        public var seq: Int
        public var kind: Kind
        public init(name: String, seq: Int, kind: Kind) {
            self.name = name
            self.seq = seq
            self.kind = kind
        }
    }

    public var entries: [Entry] = []
    public init(entries: [Entry] = []) { self.entries = entries }

    public var base: Entry? { entries.first { $0.kind == .base } }
    public var incrementals: [Entry] { entries.filter { $0.kind == .incremental } }

    public static func baseName(_ prefix: String, seq: Int, rdb: Bool) -> String { "\(prefix).\(seq).base.\(rdb ? "rdb" : "aof")" }
    public static func incrementalName(_ prefix: String, seq: Int) -> String { "\(prefix).\(seq).incr.aof" }
    public static func manifestName(_ prefix: String) -> String { "\(prefix).manifest" }

    public func text() -> String {
        entries.map { "file \($0.name) seq \($0.seq) type \($0.kind.rawValue)\n" }.joined()
    }

    /// Parses a manifest; throws with Redis's wording on a malformed one.
    public static func parse(_ text: String) throws -> AOFManifest {
        var m = AOFManifest()
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw).trimmed()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = line.split(separator: " ").map(String.init)
            var name: String?, seq: Int?, kind: Kind?
            var i = 0
            while i + 1 < words.count {
                switch words[i] {
                case "file": name = words[i + 1]
                case "seq": seq = Int(words[i + 1])
                case "type": kind = Kind(rawValue: words[i + 1])
                default: break
                }
                i += 2
            }
            guard let name, let seq, let kind, words.count % 2 == 0 else {
                throw RDBError("Invalid AOF manifest file format")
            }
            m.entries.append(Entry(name: name, seq: seq, kind: kind))
        }
        guard m.entries.filter({ $0.kind == .base }).count <= 1 else { throw RDBError("Found duplicate base file information") }
        return m
    }
}

extension String {
    func trimmed() -> String {
        var s = Substring(self)
        while let f = s.first, " \r\t".contains(f) { s.removeFirst() }
        while let l = s.last, " \r\t".contains(l) { s.removeLast() }
        return String(s)
    }
}
