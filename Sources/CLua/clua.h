/* Debian's Lua 5.1 (liblua5.1-0-dev) and lua-cjson (lua-cjson-dev), as Redis embeds them. */
#include <lua5.1/lua.h>
#include <lua5.1/lauxlib.h>
#include <lua5.1/lualib.h>
