#ifndef LARDER_SCRIPTING_H
#define LARDER_SCRIPTING_H

/* The C side of Larder's Lua: what Swift cannot do itself. Lua's API is partly macros, which
 * Swift does not import, and Lua raises errors with longjmp, which must never cross a Swift
 * frame (it would skip Swift's releases and cleanups): Swift functions called by Lua return
 * a count or LARDER_LUA_RAISE, and the C trampoline raises after the Swift frame is gone. */

#include <stddef.h>
#include <lua5.1/lua.h>
#include <lua5.1/lauxlib.h>
#include <lua5.1/lualib.h>

#define LARDER_LUA_RAISE (-1)

/* A Swift function Lua may call: returns its result count, or LARDER_LUA_RAISE with the
 * error value on top of the stack. */
typedef int (*larder_lua_fn)(lua_State *L);

/* A new state whose allocator counts its bytes and refuses past `limit` (Lua then raises
 * "not enough memory" inside the script's protected call rather than the process failing). */
lua_State *larder_lua_newstate(size_t limit);
size_t larder_lua_used(lua_State *L);
void larder_lua_close(lua_State *L);

/* base, table, string, math, and debug (kept out of the scripts' reach by the caller); cjson
 * from lua-cjson; bit from lua-bitop, loaded from its shared object; struct and cmsgpack,
 * Larder's own. Returns 0, or -1 when bit's module could not be loaded. */
int larder_lua_openlibs(lua_State *L);

/* Pushes `fn` as a Lua function (through the raising trampoline). */
void larder_lua_pushfunction(lua_State *L, larder_lua_fn fn);

/* Raises the value on top of the stack: for C functions registered with lua_pushcfunction. */
int larder_lua_raise(lua_State *L);

/* Calls `check` every `count` instructions; when it returns non-zero the script is stopped
 * with the error value it left on the stack. count 0 removes the hook. */
typedef int (*larder_lua_check)(lua_State *L);
void larder_lua_sethook(lua_State *L, larder_lua_check check, int count);

/* Bytes left on the calling thread's stack, below this call (Swift's Glibc has no
 * pthread_getattr_np): the reply writer's recursion stops before the stack ends. */
size_t larder_stack_room(void);

/* Whether the function on top of the stack, or one nested in it, assigns a global (Lua 5.1's
 * SETGLOBAL instruction); 1 also when its compiled form cannot be read. */
int larder_lua_sets_globals(lua_State *L);

/* The macros of lua.h, as functions. */
void larder_lua_pop(lua_State *L, int n);
void larder_lua_newtable(lua_State *L);
const char *larder_lua_tolstring(lua_State *L, int idx, size_t *len);
int larder_lua_upvalueindex(int i);
int larder_lua_isnil(lua_State *L, int idx);
void larder_lua_getglobal(lua_State *L, const char *name);
void larder_lua_setglobal(lua_State *L, const char *name);

#endif
