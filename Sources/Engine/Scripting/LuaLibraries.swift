import CScripting

/// The libraries Redis adds that no Debian package provides (cmsgpack, struct): not yet in
/// Larder. cjson and bit come from their Debian packages (CScripting opens them).
enum LuaLibraries {
    static func install(_ L: LuaState) {}
}
