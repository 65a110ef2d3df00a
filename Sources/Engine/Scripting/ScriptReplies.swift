import CScripting
import NIOCore
import RESP

/// Redis's conversions between replies and Lua values, both ways (Redis 7.0's rules).
///
/// A command's reply, to the script (RESP2 unless the script called redis.setresp(3)):
/// integer → number, bulk → string, null → false (RESP3: nil), array → table, status →
/// {ok = s}, error → {err = s}; and in RESP3: map → {map = t}, set → {set = {m = true}},
/// double → {double = n}, boolean → boolean, big number → {big_number = s}, verbatim →
/// {verbatim_string = {format = f, string = s}}.
///
/// The script's result, to the client: string → bulk, number → integer (truncated), true →
/// 1 and false → null (a script in RESP3 sends booleans), {err = s} → error, {ok = s} →
/// status, {double = n}, {big_number = s}, {map = t}, {set = t}, any other table → array up
/// to its first nil, nil → null.
enum ScriptReplies {
    /// Pushes the reply in `bytes` as a Lua value. A top-level error is returned instead of
    /// pushed, for redis.call to raise and redis.pcall to hand back as {err = s}.
    static func push(_ L: LuaState, reply bytes: UnsafeRawBufferPointer) -> String? {
        var at = 0
        if bytes.first == UInt8(ascii: "-") {
            let line = readLine(bytes, &at)
            return String(decoding: line.dropFirst(), as: UTF8.self)
        }
        pushValue(L, bytes, &at)
        return nil
    }

    private static func readLine(_ b: UnsafeRawBufferPointer, _ at: inout Int) -> Slice<UnsafeRawBufferPointer> {
        let start = at
        while at + 1 < b.count && !(b[at] == 13 && b[at + 1] == 10) { at += 1 }
        let line = b[start..<at]
        at += 2
        return line
    }

    private static func number(_ line: Slice<UnsafeRawBufferPointer>) -> Int {
        var v = 0, neg = false
        for (i, c) in line.dropFirst().enumerated() {
            if i == 0 && c == UInt8(ascii: "-") { neg = true; continue }
            v = v &* 10 &+ Int(c &- 48)
        }
        return neg ? -v : v
    }

    private static func pushValue(_ L: LuaState, _ b: UnsafeRawBufferPointer, _ at: inout Int) {
        guard at < b.count else { lua_pushnil(L); return }
        // A reply nests at most a few levels; the stack check guards the pathological case.
        guard lua_checkstack(L, 5) != 0 else { lua_pushnil(L); return }
        let type = b[at]
        let line = readLine(b, &at)
        switch type {
        case UInt8(ascii: ":"):
            lua_pushnumber(L, lua_Number(number(line)))
        case UInt8(ascii: "$"), UInt8(ascii: "="):
            let n = number(line)
            if n < 0 { lua_pushboolean(L, 0); return }
            let body = UnsafeRawBufferPointer(rebasing: b[at..<at + n])
            at += n + 2
            if type == UInt8(ascii: "=") {
                // "txt:..." → {verbatim_string = {format = "txt", string = "..."}}
                larder_lua_newtable(L)
                larder_lua_newtable(L)
                LuaVM.push(L, UnsafeRawBufferPointer(rebasing: body.prefix(3)))
                lua_setfield(L, -2, "format")
                LuaVM.push(L, UnsafeRawBufferPointer(rebasing: body.dropFirst(4)))
                lua_setfield(L, -2, "string")
                lua_setfield(L, -2, "verbatim_string")
            } else {
                LuaVM.push(L, body)
            }
        case UInt8(ascii: "+"):
            larder_lua_newtable(L)
            LuaVM.push(L, UnsafeRawBufferPointer(rebasing: line.dropFirst()))
            lua_setfield(L, -2, "ok")
        case UInt8(ascii: "-"):
            larder_lua_newtable(L)
            LuaVM.push(L, UnsafeRawBufferPointer(rebasing: line.dropFirst()))
            lua_setfield(L, -2, "err")
        case UInt8(ascii: "*"), UInt8(ascii: ">"):
            let n = number(line)
            if n < 0 { lua_pushboolean(L, 0); return }
            lua_createtable(L, Int32(n), 0)
            for i in 0..<n {
                pushValue(L, b, &at)
                lua_rawseti(L, -2, Int32(i + 1))
            }
        case UInt8(ascii: "%"), UInt8(ascii: "~"):
            let n = number(line)
            let isMap = type == UInt8(ascii: "%")
            larder_lua_newtable(L)
            lua_createtable(L, 0, Int32(n))
            for _ in 0..<n {
                pushValue(L, b, &at)
                if isMap { pushValue(L, b, &at) } else { lua_pushboolean(L, 1) }
                lua_rawset(L, -3)
            }
            lua_setfield(L, -2, isMap ? "map" : "set")
        case UInt8(ascii: "_"):
            lua_pushnil(L)
        case UInt8(ascii: "#"):
            lua_pushboolean(L, line.count > 1 && line[line.startIndex + 1] == UInt8(ascii: "t") ? 1 : 0)
        case UInt8(ascii: ","):
            larder_lua_newtable(L)
            let text = String(decoding: line.dropFirst(), as: UTF8.self)
            lua_pushnumber(L, Double(text) ?? (text == "inf" ? .infinity : text == "-inf" ? -.infinity : .nan))
            lua_setfield(L, -2, "double")
        case UInt8(ascii: "("):
            larder_lua_newtable(L)
            LuaVM.push(L, UnsafeRawBufferPointer(rebasing: line.dropFirst()))
            lua_setfield(L, -2, "big_number")
        default:
            lua_pushnil(L)
        }
    }

    // MARK: the script's result

    /// Writes the value on top of the stack as the reply, and pops it. `scriptResp` is the
    /// protocol the script chose with redis.setresp; `out.resp3` the client's.
    static func write(_ L: LuaState, into out: inout RESPWriter, scriptResp: Int, errors: inout [String], depth: Int = 0) {
        // As Redis, a table nested too deep (a cyclic one) ends in an error where the nesting
        // stops: when Lua's stack is full (about 8000 levels), or before this thread's stack
        // is (a debug build's frames take about 1 KB a level; checked every 256 levels).
        guard depth & 255 != 255 || larder_stack_room() > 1 << 20, lua_checkstack(L, 4) != 0 else {
            errors.append("ERR reached lua stack limit")
            out.error("ERR reached lua stack limit")
            larder_lua_pop(L, 1)
            return
        }
        switch lua_type(L, -1) {
        case LUA_TSTRING:
            out.bulk(LuaVM.bytes(L, -1)!)
        case LUA_TBOOLEAN:
            let b = lua_toboolean(L, -1) != 0
            if scriptResp == 2 {
                if b { out.integer(1) } else { out.null() }
            } else {
                out.bool(b)
            }
        case LUA_TNUMBER:
            out.integer(truncated(lua_tonumber(L, -1)))
        case LUA_TTABLE:
            writeTable(L, into: &out, scriptResp: scriptResp, errors: &errors, depth: depth)
        default:
            out.null()
        }
        larder_lua_pop(L, 1)
    }

    /// Lua's number as C's (long long) cast gives it on x86-64: out of range or NaN is the
    /// smallest integer (Redis returns what the cast gives).
    static func truncated(_ d: Double) -> Int {
        guard d.isFinite, d > -9.3e18, d < 9.2e18 else { return Int.min }
        return Int(d)
    }

    /// The number of key-value pairs of the table on top.
    private static func pairCount(_ L: LuaState) -> Int {
        var count = 0
        lua_pushnil(L)
        while lua_next(L, -2) != 0 { count += 1; larder_lua_pop(L, 1) }
        return count
    }

    private static func field(_ L: LuaState, _ name: String) -> Int32 {
        lua_pushstring(L, name)
        lua_rawget(L, -2)
        return lua_type(L, -1)
    }


    private static func writeTable(_ L: LuaState, into out: inout RESPWriter, scriptResp: Int, errors: inout [String], depth: Int) {
        if field(L, "err") == LUA_TSTRING {
            let message = String(decoding: LuaVM.bytes(L, -1)!, as: UTF8.self)
            errors.append(message)
            out.error(message)
            larder_lua_pop(L, 1)
            return
        }
        larder_lua_pop(L, 1)
        if field(L, "ok") == LUA_TSTRING {
            let text = String(decoding: LuaVM.bytes(L, -1)!.map { $0 == 13 || $0 == 10 ? 32 : $0 }, as: UTF8.self)
            out.simple(text)
            larder_lua_pop(L, 1)
            return
        }
        larder_lua_pop(L, 1)
        if field(L, "double") == LUA_TNUMBER {
            out.double(SortedSetCommands.format(lua_tonumber(L, -1)))
            larder_lua_pop(L, 1)
            return
        }
        larder_lua_pop(L, 1)
        if field(L, "big_number") == LUA_TSTRING {
            let text = LuaVM.bytes(L, -1)!
            if out.resp3 {
                out.buffer.writeInteger(UInt8(ascii: "("))
                out.buffer.writeBytes(text.map { $0 == 13 || $0 == 10 ? 32 : $0 })
                out.buffer.writeStaticString("\r\n")
            } else {
                out.bulk(text)
            }
            larder_lua_pop(L, 1)
            return
        }
        larder_lua_pop(L, 1)
        if field(L, "map") == LUA_TTABLE {
            out.map(pairCount(L))
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                lua_pushvalue(L, -2)          // the key, written and popped
                write(L, into: &out, scriptResp: scriptResp, errors: &errors, depth: depth + 1)
                write(L, into: &out, scriptResp: scriptResp, errors: &errors, depth: depth + 1)   // the value
            }
            larder_lua_pop(L, 1)
            return
        }
        larder_lua_pop(L, 1)
        if field(L, "set") == LUA_TTABLE {
            out.set(pairCount(L))
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                larder_lua_pop(L, 1)
                lua_pushvalue(L, -1)
                write(L, into: &out, scriptResp: scriptResp, errors: &errors, depth: depth + 1)
            }
            larder_lua_pop(L, 1)
            return
        }
        larder_lua_pop(L, 1)
        // An array: elements 1, 2, ... up to the first nil. Its length is known only after
        // the walk, so the elements are written to a second writer first.
        var count = 0
        while true {
            lua_rawgeti(L, -1, Int32(count + 1))
            if lua_type(L, -1) == LUA_TNIL { larder_lua_pop(L, 1); break }
            larder_lua_pop(L, 1)
            count += 1
        }
        out.array(count)
        for i in 0..<count {
            lua_rawgeti(L, -1, Int32(i + 1))
            write(L, into: &out, scriptResp: scriptResp, errors: &errors, depth: depth + 1)
        }
    }
}
