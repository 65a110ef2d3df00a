#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include "scripting.h"

/* The allocator's bookkeeping, one per state (Lua hands it back as `ud`). */
struct larder_alloc {
    size_t used;
    size_t limit;
};

static void *larder_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize) {
    struct larder_alloc *a = ud;
    if (nsize == 0) {
        free(ptr);
        a->used -= osize;
        return NULL;
    }
    /* Lua 5.1 passes the old size for a block it owns, and 0 for a new one. */
    if (nsize > osize && a->used - osize + nsize > a->limit) return NULL;
    void *p = realloc(ptr, nsize);
    if (p != NULL) a->used = a->used - osize + nsize;
    return p;
}

static int larder_panic(lua_State *L) {
    (void)L;
    /* Only reached for an error outside any protected call: Larder makes none. */
    abort();
}

lua_State *larder_lua_newstate(size_t limit) {
    struct larder_alloc *a = malloc(sizeof *a);
    if (a == NULL) return NULL;
    a->used = 0;
    a->limit = limit;
    lua_State *L = lua_newstate(larder_alloc_fn, a);
    if (L == NULL) { free(a); return NULL; }
    lua_atpanic(L, larder_panic);
    return L;
}

size_t larder_lua_used(lua_State *L) {
    void *ud;
    lua_getallocf(L, &ud);
    return ((struct larder_alloc *)ud)->used;
}

void larder_lua_close(lua_State *L) {
    void *ud;
    lua_getallocf(L, &ud);
    lua_close(L);
    free(ud);
}

extern int luaopen_cjson(lua_State *L);
/* Larder's own (struct.c, cmsgpack.c): no Debian package carries them. */
int larder_luaopen_struct(lua_State *L);
int larder_luaopen_cmsgpack(lua_State *L);

/* Opens a library and makes it the global `name` (lua-cjson returns its table without
 * setting one). */
static void larder_open(lua_State *L, lua_CFunction open, const char *name) {
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (name[0] != '\0' && lua_istable(L, -1)) lua_setglobal(L, name);
    else lua_pop(L, 1);
}

int larder_lua_openlibs(lua_State *L) {
    larder_open(L, luaopen_base, "");
    larder_open(L, luaopen_table, LUA_TABLIBNAME);
    larder_open(L, luaopen_string, LUA_STRLIBNAME);
    larder_open(L, luaopen_math, LUA_MATHLIBNAME);
    larder_open(L, luaopen_debug, LUA_DBLIBNAME);
    larder_open(L, luaopen_cjson, "cjson");
    larder_open(L, larder_luaopen_struct, "struct");
    larder_open(L, larder_luaopen_cmsgpack, "cmsgpack");
    /* lua-bitop ships only the module (no -dev link name): loaded as Lua's require would. */
    void *bitop = dlopen("liblua5.1-bitop.so.0", RTLD_NOW | RTLD_GLOBAL);
    if (bitop == NULL) return -1;
    lua_CFunction open_bit = (lua_CFunction)dlsym(bitop, "luaopen_bit");
    if (open_bit == NULL) return -1;
    larder_open(L, open_bit, "bit");
    return 0;
}

static int larder_trampoline(lua_State *L) {
    larder_lua_fn fn = (larder_lua_fn)lua_touserdata(L, lua_upvalueindex(1));
    int n = fn(L);
    if (n == LARDER_LUA_RAISE) return lua_error(L);
    return n;
}

void larder_lua_pushfunction(lua_State *L, larder_lua_fn fn) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_pushcclosure(L, larder_trampoline, 1);
}

int larder_lua_raise(lua_State *L) { return lua_error(L); }

/* The hook's Swift check, one for the process (the hook signature carries no user data). */
static larder_lua_check larder_check;

static void larder_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (larder_check != NULL && larder_check(L)) {
        /* A script stopped by SCRIPT KILL or a timeout must not be resumed by the count hook
         * firing again inside an error handler: the hook stays set and keeps raising. */
        lua_error(L);
    }
}

void larder_lua_sethook(lua_State *L, larder_lua_check check, int count) {
    larder_check = check;
    if (count > 0) lua_sethook(L, larder_hook, LUA_MASKCOUNT, count);
    else lua_sethook(L, NULL, 0, 0);
}

void larder_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
void larder_lua_newtable(lua_State *L) { lua_newtable(L); }
const char *larder_lua_tolstring(lua_State *L, int idx, size_t *len) { return lua_tolstring(L, idx, len); }
int larder_lua_upvalueindex(int i) { return lua_upvalueindex(i); }
int larder_lua_isnil(lua_State *L, int idx) { return lua_isnil(L, idx); }
void larder_lua_getglobal(lua_State *L, const char *name) { lua_getglobal(L, name); }
void larder_lua_setglobal(lua_State *L, const char *name) { lua_setglobal(L, name); }

size_t larder_stack_room(void) {
    pthread_attr_t attr;
    void *low = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
    pthread_attr_getstack(&attr, &low, &size);
    pthread_attr_destroy(&attr);
    char here;
    return (size_t)(&here - (char *)low);
}
