/// Glob-style matching exactly as Redis's stringmatchlen: `*`, `?`, `[...]` with ranges and
/// `^` negation, and `\` escapes. Used by KEYS, SCAN MATCH and, later, PSUBSCRIBE.
public func globMatch(_ pattern: UnsafeRawBufferPointer, _ string: UnsafeRawBufferPointer, nocase: Bool = false) -> Bool {
    var skipLongerMatches = false
    return globMatchImpl(pattern, 0, string, 0, nocase, &skipLongerMatches, 0)
}

public func globMatch<P: Collection, S: Collection>(_ pattern: P, _ string: S, nocase: Bool = false) -> Bool
where P.Element == UInt8, S.Element == UInt8 {
    let p = Array(pattern), s = Array(string)
    return p.withUnsafeBytes { pp in s.withUnsafeBytes { ss in globMatch(pp, ss, nocase: nocase) } }
}

private func lower(_ c: UInt8, _ nocase: Bool) -> UInt8 {
    nocase && c >= 65 && c <= 90 ? c | 0x20 : c
}

private func globMatchImpl(_ p: UnsafeRawBufferPointer, _ pi0: Int, _ s: UnsafeRawBufferPointer, _ si0: Int,
                           _ nocase: Bool, _ skipLonger: inout Bool, _ nesting: Int) -> Bool {
    // Redis caps recursion so that patterns like "a*a*a*...b" cannot blow the stack.
    if nesting > 1000 { return false }
    var pi = pi0, si = si0
    while pi < p.count && si < s.count {
        switch p[pi] {
        case UInt8(ascii: "*"):
            while pi + 1 < p.count && p[pi + 1] == UInt8(ascii: "*") { pi += 1 }
            if pi + 1 == p.count { return true }
            while si < s.count {
                if globMatchImpl(p, pi + 1, s, si, nocase, &skipLonger, nesting + 1) { return true }
                if skipLonger { return false }
                si += 1
            }
            skipLonger = true
            return false
        case UInt8(ascii: "?"):
            si += 1
        case UInt8(ascii: "["):
            pi += 1
            let not = pi < p.count && p[pi] == UInt8(ascii: "^")
            if not { pi += 1 }
            var match = false
            while true {
                if pi >= p.count { pi -= 1; break }   // unterminated class: Redis steps back
                if p[pi] == UInt8(ascii: "\\") && pi + 1 < p.count {
                    pi += 1
                    if p[pi] == s[si] { match = true }
                } else if p[pi] == UInt8(ascii: "]") {
                    break
                } else if pi + 2 < p.count && p[pi + 1] == UInt8(ascii: "-") {
                    var start = lower(p[pi], nocase), end = lower(p[pi + 2], nocase)
                    let c = lower(s[si], nocase)
                    if start > end { swap(&start, &end) }
                    pi += 2
                    if c >= start && c <= end { match = true }
                } else {
                    if lower(p[pi], nocase) == lower(s[si], nocase) { match = true }
                }
                pi += 1
            }
            if not { match = !match }
            if !match { return false }
            si += 1
        case UInt8(ascii: "\\"):
            if pi + 1 < p.count { pi += 1 }
            if lower(p[pi], nocase) != lower(s[si], nocase) { return false }
            si += 1
        default:
            if lower(p[pi], nocase) != lower(s[si], nocase) { return false }
            si += 1
        }
        pi += 1
        if si == s.count {
            while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
            break
        }
    }
    return pi == p.count && si == s.count
}
