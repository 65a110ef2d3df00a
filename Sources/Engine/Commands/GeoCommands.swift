import Foundation
import RESP
import Storage

/// Geo commands on sorted sets, as Redis 7.0: a member's score is its 52-bit interleaved
/// geohash (latitude limited to ±85.05112878), positions decode to the centre of the hash's
/// cell, and distances are haversine on Redis's earth radius, so that every position,
/// distance and search result equals redis-server's.
enum GeoCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("geoadd", arity: -5, flags: [.write, .denyoom], keys: (1, 1, 1), group: "geo",
                    summary: "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
                    complexity: "O(log(N)) for each item added", handler: geoadd),
        CommandSpec("geopos", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: "geo",
                    summary: "Returns the longitude and latitude of members from a geospatial index.", handler: geopos),
        CommandSpec("geodist", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "geo",
                    summary: "Returns the distance between two members of a geospatial index.", handler: geodist),
        CommandSpec("geohash", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: "geo",
                    summary: "Returns members from a geospatial index as geohash strings.", handler: geohash),
        CommandSpec("georadius", arity: -6, flags: [.write, .denyoom, .movableKeys], keys: (1, 1, 1), group: "geo",
                    summary: "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
                    keyFinder: radiusKeys, handler: { search(&$0, .coords) }),
        CommandSpec("georadius_ro", arity: -6, flags: [.readonly], keys: (1, 1, 1), group: "geo",
                    summary: "Returns members from a geospatial index that are within a distance from a coordinate.",
                    handler: { search(&$0, .coordsReadOnly) }),
        CommandSpec("georadiusbymember", arity: -5, flags: [.write, .denyoom, .movableKeys], keys: (1, 1, 1), group: "geo",
                    summary: "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
                    keyFinder: radiusKeys, handler: { search(&$0, .member) }),
        CommandSpec("georadiusbymember_ro", arity: -5, flags: [.readonly], keys: (1, 1, 1), group: "geo",
                    summary: "Returns members from a geospatial index that are within a distance from a member.",
                    handler: { search(&$0, .memberReadOnly) }),
        CommandSpec("geosearch", arity: -7, flags: [.readonly], keys: (1, 1, 1), group: "geo",
                    summary: "Queries a geospatial index for members inside an area of a box or a circle.",
                    handler: { search(&$0, .search) }),
        CommandSpec("geosearchstore", arity: -8, flags: [.write, .denyoom], keys: (1, 2, 1), group: "geo",
                    summary: "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
                    handler: { search(&$0, .searchStore) }),
    ]

    /// GEORADIUS's keys: the source, and a STORE / STOREDIST destination when given.
    static func radiusKeys(_ args: CommandArguments) -> [Int] {
        var keys = [1]
        var i = 2
        while i < args.count - 1 {
            if args.matches(i, "store") || args.matches(i, "storedist") { keys.append(i + 1) }
            i += 1
        }
        return keys
    }

    // MARK: geohash

    static let longMin = -180.0, longMax = 180.0
    static let latMin = -85.05112878, latMax = 85.05112878
    static let step = 26
    static let earthRadius = 6372797.560856

    /// Spreads the low 32 bits of `x` to the even bit positions.
    static func spread(_ v: UInt32) -> UInt64 {
        var x = UInt64(v)
        x = (x | (x << 16)) & 0x0000FFFF0000FFFF
        x = (x | (x << 8)) & 0x00FF00FF00FF00FF
        x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0F
        x = (x | (x << 2)) & 0x3333333333333333
        x = (x | (x << 1)) & 0x5555555555555555
        return x
    }

    static func squash(_ v: UInt64) -> UInt32 {
        var x = v & 0x5555555555555555
        x = (x | (x >> 1)) & 0x3333333333333333
        x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0F
        x = (x | (x >> 4)) & 0x00FF00FF00FF00FF
        x = (x | (x >> 8)) & 0x0000FFFF0000FFFF
        x = (x | (x >> 16)) & 0x00000000FFFFFFFF
        return UInt32(x)
    }

    /// The 52-bit hash of a position: latitude bits at even places, longitude at odd ones.
    static func encode(lon: Double, lat: Double, latMin: Double = latMin, latMax: Double = latMax) -> UInt64 {
        let latOffset = (lat - latMin) / (latMax - latMin) * Double(UInt64(1) << UInt64(step))
        let lonOffset = (lon - longMin) / (longMax - longMin) * Double(UInt64(1) << UInt64(step))
        return spread(UInt32(latOffset)) | spread(UInt32(lonOffset)) << 1
    }

    /// The centre of a hash's cell, clamped to the valid range.
    static func decode(_ bits: UInt64) -> (lon: Double, lat: Double) {
        let ilat = Double(squash(bits)), ilon = Double(squash(bits >> 1))
        let cells = Double(UInt64(1) << UInt64(step))
        let latScale = latMax - latMin, lonScale = longMax - longMin
        let latLo = latMin + (ilat / cells) * latScale, latHi = latMin + ((ilat + 1) / cells) * latScale
        let lonLo = longMin + (ilon / cells) * lonScale, lonHi = longMin + ((ilon + 1) / cells) * lonScale
        let lon = min(max((lonLo + lonHi) / 2, longMin), longMax)
        let lat = min(max((latLo + latHi) / 2, latMin), latMax)
        return (lon, lat)
    }

    static func radians(_ d: Double) -> Double { d * (Double.pi / 180.0) }

    static func latDistance(_ lat1: Double, _ lat2: Double) -> Double {
        earthRadius * abs(radians(lat2) - radians(lat1))
    }

    /// Haversine distance in meters.
    static func distance(_ lon1: Double, _ lat1: Double, _ lon2: Double, _ lat2: Double) -> Double {
        let v = sin((radians(lon2) - radians(lon1)) / 2)
        if v == 0 { return latDistance(lat1, lat2) }
        let la1 = radians(lat1), la2 = radians(lat2)
        let u = sin((la2 - la1) / 2)
        let a = u * u + cos(la1) * cos(la2) * v * v
        return 2.0 * earthRadius * asin(sqrt(a))
    }

    // MARK: the cells a search walks

    /// A geohash of `step` bits per coordinate.
    struct Cell: Equatable {
        var bits: UInt64
        var step: Int
    }

    static func encode(lon: Double, lat: Double, step: Int) -> Cell {
        let cells = Double(UInt64(1) << UInt64(step))
        let latOffset = (lat - latMin) / (latMax - latMin) * cells
        let lonOffset = (lon - longMin) / (longMax - longMin) * cells
        return Cell(bits: spread(UInt32(latOffset)) | spread(UInt32(lonOffset)) << 1, step: step)
    }

    /// The cell's longitude and latitude bounds.
    static func area(_ c: Cell) -> (lonMin: Double, lonMax: Double, latMin: Double, latMax: Double) {
        let ilat = Double(squash(c.bits)), ilon = Double(squash(c.bits >> 1))
        let cells = Double(UInt64(1) << UInt64(c.step))
        let latScale = latMax - latMin, lonScale = longMax - longMin
        return (longMin + (ilon / cells) * lonScale, longMin + ((ilon + 1) / cells) * lonScale,
                latMin + (ilat / cells) * latScale, latMin + ((ilat + 1) / cells) * latScale)
    }

    /// The neighbouring cell `dx` (longitude, odd bits) and `dy` (latitude, even bits) away.
    static func moved(_ c: Cell, dx: Int, dy: Int) -> Cell {
        var bits = c.bits
        let shift = UInt64(64 - c.step * 2)
        for (d, mask, other) in [(dx, UInt64(0xaaaaaaaaaaaaaaaa), UInt64(0x5555555555555555)),
                                 (dy, UInt64(0x5555555555555555), UInt64(0xaaaaaaaaaaaaaaaa))] where d != 0 {
            var v = bits & mask
            let keep = bits & other
            let zz = other >> shift
            if d > 0 { v = v &+ (zz &+ 1) } else { v = (v | zz) &- (zz &+ 1) }
            v &= mask >> shift
            bits = v | keep
        }
        return Cell(bits: bits, step: c.step)
    }

    /// Bits per coordinate enough for a search of this size (geohashEstimateStepsByRadius).
    static func stepFor(radius: Double, lat: Double) -> Int {
        if radius == 0 { return 26 }
        var range = radius
        var step = 1
        while range < 20037726.37 {
            range *= 2
            step += 1
        }
        step -= 2
        if lat > 66 || lat < -66 {
            step -= 1
            if lat > 80 || lat < -80 { step -= 1 }
        }
        return min(max(step, 1), 26)
    }

    /// The 52-bit score ranges of the cells that cover a search, in the order Redis walks
    /// them (centre, N, S, E, W, NE, NW, SE, SW), useless ones left out.
    static func cells(center: (Double, Double), shape: Shape, meters: Double) -> [Range<UInt64>] {
        let (lon, lat) = center
        let halfHeight: Double, halfWidth: Double, radius: Double
        switch shape {
        case .circle(let r):
            (halfHeight, halfWidth, radius) = (r * meters, r * meters, r * meters)
        case .box(let w, let h):
            (halfHeight, halfWidth, radius) = (h / 2 * meters, w / 2 * meters, (w / 2 * w / 2 + h / 2 * h / 2).squareRoot() * meters)
        }
        // The search's bounding box (geohashBoundingBox).
        let latDelta = (halfHeight / earthRadius) / (Double.pi / 180.0)
        let lonDeltaTop = (halfWidth / earthRadius / cos(radians(lat + latDelta))) / (Double.pi / 180.0)
        let lonDeltaBottom = (halfWidth / earthRadius / cos(radians(lat - latDelta))) / (Double.pi / 180.0)
        let south = lat < 0
        let minLon = south ? lon - lonDeltaBottom : lon - lonDeltaTop
        let maxLon = south ? lon + lonDeltaBottom : lon + lonDeltaTop
        let minLat = lat - latDelta, maxLat = lat + latDelta

        var step = stepFor(radius: radius, lat: lat)
        func around(_ step: Int) -> [Cell?] {
            let c = encode(lon: lon, lat: lat, step: step)
            return [c, moved(c, dx: 0, dy: 1), moved(c, dx: 0, dy: -1), moved(c, dx: 1, dy: 0), moved(c, dx: -1, dy: 0),
                    moved(c, dx: 1, dy: 1), moved(c, dx: -1, dy: 1), moved(c, dx: 1, dy: -1), moved(c, dx: -1, dy: -1)]
        }
        var n = around(step)
        let north = area(n[1]!), southA = area(n[2]!), east = area(n[3]!), west = area(n[4]!)
        if step > 1 && (north.latMax < maxLat || southA.latMin > minLat || east.lonMax < maxLon || west.lonMin > minLon) {
            step -= 1
            n = around(step)
        }
        if step >= 2 {
            let a = area(n[0]!)
            if a.latMin < minLat { n[2] = nil; n[8] = nil; n[7] = nil }
            if a.latMax > maxLat { n[1] = nil; n[5] = nil; n[6] = nil }
            if a.lonMin < minLon { n[4] = nil; n[8] = nil; n[6] = nil }
            if a.lonMax > maxLon { n[3] = nil; n[7] = nil; n[5] = nil }
        }
        var out: [Range<UInt64>] = []
        var last = 0
        for (i, c) in n.enumerated() {
            guard let cell = c else { continue }
            // Huge searches make neighbours coincide: one equal to the last walked is skipped
            // (Redis does not compare with the centre cell, so neither does this).
            if last != 0, let prev = n[last], prev == cell { continue }
            let shift = UInt64(52 - cell.step * 2)
            out.append((cell.bits << shift)..<((cell.bits + 1) << shift))
            last = i
        }
        return out
    }

    // MARK: arguments

    /// Longitude and latitude at arguments i, i+1; replies and returns nil when invalid.
    static func position(_ c: inout CommandContext, _ i: Int) -> (Double, Double)? {
        guard let lon = c.double(i), let lat = c.double(i + 1) else { return nil }
        if lon < longMin || lon > longMax || lat < latMin || lat > latMax {
            c.error("ERR invalid longitude,latitude pair \(String(format: "%f", lon)),\(String(format: "%f", lat))")
            return nil
        }
        return (lon, lat)
    }

    /// Meters per unit; replies and returns nil for an unknown unit.
    static func unit(_ c: inout CommandContext, _ i: Int) -> Double? {
        if c.args.matches(i, "m") { return 1 }
        if c.args.matches(i, "km") { return 1000 }
        if c.args.matches(i, "ft") { return 0.3048 }
        if c.args.matches(i, "mi") { return 1609.34 }
        c.error("ERR unsupported unit provided. please use M, KM, FT, MI")
        return nil
    }

    static func distanceText(_ d: Double) -> String { String(format: "%.4f", d) }

    /// A coordinate as Redis's addReplyHumanLongDouble: "%.17Lf" without trailing zeros; a
    /// double in RESP3, a bulk string in RESP2.
    static func coordinate(_ d: Double) -> String {
        String(decoding: StringCommands.formatLongDouble(Float80(d)), as: UTF8.self)
    }

    static func zsetLookup(_ c: inout CommandContext, _ i: Int) -> (found: SortedSetValue?, wrongType: Bool) {
        switch c.find(i, c.isZSet) {
        case .wrongType:
            c.error(Errors.wrongType)
            return (nil, true)
        case .missing: return (nil, false)
        case .found(let s, let slot):
            guard case .zset(let z) = s.entry(at: slot).value else { return (nil, false) }
            return (z, false)
        }
    }

    // MARK: commands

    /// GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]
    static func geoadd(_ c: inout CommandContext) {
        var first = 2
        var nx = false, xx = false
        while first < c.argc {
            if c.args.matches(first, "nx") { nx = true }
            else if c.args.matches(first, "xx") { xx = true }
            else if !c.args.matches(first, "ch") { break }
            first += 1
        }
        if (c.argc - first) % 3 != 0 || (nx && xx) {
            c.error(Errors.syntax)
            return
        }
        // Rewritten as the ZADD it is: options, then score / member pairs.
        var parts: [[UInt8]] = [Array("zadd".utf8)] + (1..<first).map { c.args.owned($0) }
        var i = first
        while i < c.argc {
            guard let (lon, lat) = position(&c, i) else { return }
            parts.append(Array(String(encode(lon: lon, lat: lat)).utf8))
            parts.append(c.args.owned(i + 2))
            i += 3
        }
        let original = c.args
        c.args = CommandArguments(parts)
        SortedSetCommands.zadd(&c, alwaysIncr: false)
        c.args = original
        if c.propagating { c.propagateInstead(parts) }
    }

    /// GEOPOS key [member [member ...]]
    static func geopos(_ c: inout CommandContext) {
        let (z, wrong) = zsetLookup(&c, 1)
        if wrong { return }
        c.out.array(c.argc - 2)
        for i in 2..<c.argc {
            guard let score = z?.score(c.args[i]) else { c.out.nullArray(); continue }
            let (lon, lat) = decode(UInt64(score))
            c.out.array(2)
            c.out.double(coordinate(lon))
            c.out.double(coordinate(lat))
        }
    }

    /// GEODIST key member1 member2 [M | KM | FT | MI]
    static func geodist(_ c: inout CommandContext) {
        var meters = 1.0
        if c.argc == 5 {
            guard let u = unit(&c, 4) else { return }
            meters = u
        } else if c.argc > 5 {
            c.error(Errors.syntax)
            return
        }
        let (z, wrong) = zsetLookup(&c, 1)
        if wrong { return }
        guard let z, let s1 = z.score(c.args[2]), let s2 = z.score(c.args[3]) else { c.out.null(); return }
        let a = decode(UInt64(s1)), b = decode(UInt64(s2))
        c.out.bulk(distanceText(distance(a.lon, a.lat, b.lon, b.lat) / meters))
    }

    /// GEOHASH key [member [member ...]]
    static func geohash(_ c: inout CommandContext) {
        let alphabet = Array("0123456789bcdefghjkmnpqrstuvwxyz".utf8)
        let (z, wrong) = zsetLookup(&c, 1)
        if wrong { return }
        c.out.array(c.argc - 2)
        for i in 2..<c.argc {
            guard let score = z?.score(c.args[i]) else { c.out.null(); continue }
            // The standard geohash: latitude over ±90, not the ±85 of the scores.
            let (lon, lat) = decode(UInt64(score))
            let bits = encode(lon: lon, lat: lat, latMin: -90, latMax: 90)
            var text: [UInt8] = []
            for j in 0..<11 {
                let idx = j == 10 ? 0 : Int((bits >> UInt64(52 - (j + 1) * 5)) & 0x1f)
                text.append(alphabet[idx])
            }
            c.out.bulk(text)
        }
    }

    enum Variant { case coords, coordsReadOnly, member, memberReadOnly, search, searchStore }

    enum Shape {
        case circle(radius: Double)
        case box(width: Double, height: Double)
    }

    struct Hit {
        var member: [UInt8]
        var score: Double
        var dist: Double
        var lon: Double, lat: Double
    }

    /// GEORADIUS, GEORADIUSBYMEMBER (and _RO), GEOSEARCH and GEOSEARCHSTORE, as Redis's
    /// georadiusGeneric: the same argument rules, errors and reply shapes.
    static func search(_ c: inout CommandContext, _ variant: Variant) {
        let isSearch = variant == .search || variant == .searchStore
        let noStore = variant == .coordsReadOnly || variant == .memberReadOnly
        let source = variant == .searchStore ? 2 : 1
        let (zset, wrong) = zsetLookup(&c, source)
        if wrong { return }
        var center: (Double, Double)? = nil
        var shape: Shape? = nil
        var meters = 1.0
        var base: Int
        var storeKey: Int? = nil
        var storeDist = false

        func radiusArgs(_ i: Int) -> Bool {
            guard let r = c.double(i, error: "ERR need numeric radius") else { return false }
            guard r >= 0 else { c.error("ERR radius cannot be negative"); return false }
            guard let u = unit(&c, i + 1) else { return false }
            shape = .circle(radius: r)
            meters = u
            return true
        }

        switch variant {
        case .coords, .coordsReadOnly:
            base = 6
            guard let p = position(&c, 2) else { return }
            center = p
            guard radiusArgs(4) else { return }
        case .member, .memberReadOnly:
            base = 5
            if let zset {
                guard let s = zset.score(c.args[2]) else { c.error("ERR could not decode requested zset member"); return }
                center = decode(UInt64(s))
                guard radiusArgs(3) else { return }
            }
        case .search:
            base = 2
        case .searchStore:
            base = 3
            storeKey = 1
        }

        var withDist = false, withHash = false, withCoord = false, any = false
        var fromMember = false, fromLonLat = false, byRadius = false, byBox = false
        enum Sort { case none, asc, desc }
        var sort = Sort.none
        var count = 0
        let remaining = c.argc - base
        var i = 0
        while i < remaining {
            let a = base + i
            if c.args.matches(a, "withdist") { withDist = true }
            else if c.args.matches(a, "withhash") { withHash = true }
            else if c.args.matches(a, "withcoord") { withCoord = true }
            else if c.args.matches(a, "any") { any = true }
            else if c.args.matches(a, "asc") { sort = .asc }
            else if c.args.matches(a, "desc") { sort = .desc }
            else if c.args.matches(a, "count") && i + 1 < remaining {
                guard let n = c.integer(a + 1) else { return }
                guard n > 0 else { c.error("ERR COUNT must be > 0"); return }
                count = n
                i += 1
            } else if (c.args.matches(a, "store") || c.args.matches(a, "storedist")) && i + 1 < remaining && !noStore && !isSearch {
                storeKey = a + 1
                storeDist = c.args.matches(a, "storedist")
                i += 1
            } else if c.args.matches(a, "storedist") && variant == .searchStore {
                storeDist = true
            } else if c.args.matches(a, "frommember") && i + 1 < remaining && isSearch && !fromLonLat {
                if let zset {
                    guard let s = zset.score(c.args[a + 1]) else { c.error("ERR could not decode requested zset member"); return }
                    center = decode(UInt64(s))
                }
                fromMember = true
                i += 1
            } else if c.args.matches(a, "fromlonlat") && i + 2 < remaining && isSearch && !fromMember {
                guard let p = position(&c, a + 1) else { return }
                center = p
                fromLonLat = true
                i += 2
            } else if c.args.matches(a, "byradius") && i + 2 < remaining && isSearch && !byBox {
                guard radiusArgs(a + 1) else { return }
                byRadius = true
                i += 2
            } else if c.args.matches(a, "bybox") && i + 3 < remaining && isSearch && !byRadius {
                guard let w = c.double(a + 1, error: "ERR need numeric width"),
                      let h = c.double(a + 2, error: "ERR need numeric height") else { return }
                guard w >= 0 && h >= 0 else { c.error("ERR height or width cannot be negative"); return }
                guard let u = unit(&c, a + 3) else { return }
                shape = .box(width: w, height: h)
                meters = u
                byBox = true
                i += 3
            } else {
                c.error(Errors.syntax)
                return
            }
            i += 1
        }
        if storeKey != nil && (withDist || withHash || withCoord) {
            c.error("ERR \(variant == .searchStore ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS") is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
            return
        }
        let name = c.args.string(0)
        if isSearch && !(fromMember || fromLonLat) {
            c.error("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for \(name)")
            return
        }
        if isSearch && !(byRadius || byBox) {
            c.error("ERR exactly one of BYRADIUS and BYBOX can be specified for \(name)")
            return
        }
        if any && count == 0 {
            c.error("ERR the ANY argument requires COUNT argument")
            return
        }
        guard let zset, let (cx, cy) = center, let shape else {
            if let storeKey {
                if c.shard(storeKey).delete(c.args[storeKey], now: c.lookupNow) {
                    c.dirty()
                    c.notify(.generic, "del", storeKey)
                }
                c.out.integer(0)
            } else {
                c.out.array(0)
            }
            return
        }
        if count != 0 && sort == .none && !any { sort = .asc }

        var hits: [Hit] = []
        for cell in cells(center: (cx, cy), shape: shape, meters: meters) {
            if any && !hits.isEmpty && hits.count >= count { break }
            // Members whose score falls in the cell, in score order (as Redis's range walk).
            var rank = zset.firstRank(score: Double(cell.lowerBound), exclusive: false)
            while rank < zset.count {
                let (score, member) = zset.element(at: rank)
                if score >= Double(cell.upperBound) { break }
                rank += 1
                let (lon, lat) = decode(UInt64(score))
                let d: Double
                switch shape {
                case .circle(let r):
                    d = distance(cx, cy, lon, lat)
                    if d > r * meters { continue }
                case .box(let w, let h):
                    if latDistance(lat, cy) > h * meters / 2 { continue }
                    if distance(lon, lat, cx, lat) > w * meters / 2 { continue }
                    d = distance(cx, cy, lon, lat)
                }
                hits.append(Hit(member: member, score: score, dist: d, lon: lon, lat: lat))
                if any && hits.count >= count { break }
            }
        }
        switch sort {
        case .asc: hits.sort { $0.dist < $1.dist }
        case .desc: hits.sort { $0.dist > $1.dist }
        case .none: break
        }
        if count > 0 && hits.count > count { hits.removeLast(hits.count - count) }

        if let storeKey {
            let dest = c.shard(storeKey)
            if hits.isEmpty {
                if dest.delete(c.args[storeKey], now: c.lookupNow) {
                    c.dirty()
                    c.notify(.generic, "del", storeKey)
                }
                c.out.integer(0)
                return
            }
            var z = SortedSetValue()
            let (maxEntries, maxValue) = SortedSetCommands.limits(c)
            for h in hits { _ = z.set(h.member, storeDist ? h.dist / meters : h.score, maxEntries: maxEntries, maxValue: maxValue) }
            dest.set(c.args[storeKey], .zset(z), access: c.newAccess)
            c.dirty(hits.count)
            c.notify(.zset, variant == .searchStore ? "geosearchstore" : "georadiusstore", storeKey)
            c.out.integer(hits.count)
            return
        }
        let extra = (withDist ? 1 : 0) + (withHash ? 1 : 0) + (withCoord ? 1 : 0)
        c.out.array(hits.count)
        for h in hits {
            if extra > 0 { c.out.array(extra + 1) }
            c.out.bulk(h.member)
            if withDist { c.out.bulk(distanceText(h.dist / meters)) }
            if withHash { c.out.integer(Int(h.score)) }
            if withCoord {
                c.out.array(2)
                c.out.double(coordinate(h.lon))
                c.out.double(coordinate(h.lat))
            }
        }
    }
}
