#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
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

/* ---- Does a compiled chunk assign a global? ----
 * Read from lua_dump's output (Lua 5.1's format, ldump.c): Debian's Lua ships no header that
 * exposes a function's prototype. Any doubt (a format this reader does not expect) answers
 * yes, which only costs the caller speed. */

struct dump_buf { unsigned char *p; size_t n, cap; int failed; };

static int dump_writer(lua_State *L, const void *data, size_t size, void *ud) {
    (void)L;
    struct dump_buf *b = ud;
    if (b->n + size > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + size) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (p == NULL) { b->failed = 1; return 1; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, size);
    b->n += size;
    return 0;
}

struct dump_reader { const unsigned char *p, *end; size_t int_size, size_t_size, number_size; };

static int read_bytes(struct dump_reader *r, size_t n, const unsigned char **out) {
    if ((size_t)(r->end - r->p) < n) return 0;
    if (out) *out = r->p;
    r->p += n;
    return 1;
}

static int read_uint(struct dump_reader *r, size_t size, size_t *v) {
    const unsigned char *b;
    if (size > sizeof(size_t) || !read_bytes(r, size, &b)) return 0;
    size_t x = 0;
    for (size_t i = 0; i < size; i++) x |= (size_t)b[i] << (8 * i);   /* little-endian only */
    *v = x;
    return 1;
}

static int skip_string(struct dump_reader *r) {
    size_t n;
    return read_uint(r, r->size_t_size, &n) && read_bytes(r, n, NULL);
}

/* 1: assigns a global, 0: does not, -1: could not tell. */
static int function_sets_globals(struct dump_reader *r, int depth) {
    size_t n, i;
    if (depth > 200 || !skip_string(r)) return -1;                     /* source */
    if (!read_bytes(r, 2 * r->int_size + 4, NULL)) return -1;         /* lines, nups ... */
    if (!read_uint(r, r->int_size, &n)) return -1;
    const unsigned char *code;
    if (n > (size_t)(r->end - r->p) / 4 || !read_bytes(r, 4 * n, &code)) return -1;
    for (i = 0; i < n; i++) {
        uint32_t instruction = (uint32_t)code[4 * i] | (uint32_t)code[4 * i + 1] << 8 |
                               (uint32_t)code[4 * i + 2] << 16 | (uint32_t)code[4 * i + 3] << 24;
        if ((instruction & 0x3F) == 7) return 1;                      /* OP_SETGLOBAL */
    }
    if (!read_uint(r, r->int_size, &n)) return -1;                    /* constants */
    for (i = 0; i < n; i++) {
        const unsigned char *type;
        if (!read_bytes(r, 1, &type)) return -1;
        switch (*type) {
        case LUA_TNIL: break;
        case LUA_TBOOLEAN: if (!read_bytes(r, 1, NULL)) return -1; break;
        case LUA_TNUMBER: if (!read_bytes(r, r->number_size, NULL)) return -1; break;
        case LUA_TSTRING: if (!skip_string(r)) return -1; break;
        default: return -1;
        }
    }
    if (!read_uint(r, r->int_size, &n)) return -1;                    /* nested functions */
    for (i = 0; i < n; i++) {
        int nested = function_sets_globals(r, depth + 1);
        if (nested != 0) return nested;
    }
    if (!read_uint(r, r->int_size, &n) || !read_bytes(r, n * r->int_size, NULL)) return -1;   /* lines */
    if (!read_uint(r, r->int_size, &n)) return -1;                    /* locals */
    for (i = 0; i < n; i++) {
        if (!skip_string(r) || !read_bytes(r, 2 * r->int_size, NULL)) return -1;
    }
    if (!read_uint(r, r->int_size, &n)) return -1;                    /* upvalue names */
    for (i = 0; i < n; i++) {
        if (!skip_string(r)) return -1;
    }
    return 0;
}

int larder_lua_sets_globals(lua_State *L) {
    struct dump_buf b = { NULL, 0, 0, 0 };
    int answer = 1;
    if (lua_dump(L, dump_writer, &b) == 0 && !b.failed && b.n >= 12 &&
        memcmp(b.p, LUA_SIGNATURE, 4) == 0 && b.p[4] == 0x51 && b.p[5] == 0 && b.p[6] == 1 &&
        b.p[9] == 4) {
        struct dump_reader r = { b.p + 12, b.p + b.n, b.p[7], b.p[8], b.p[10] };
        answer = function_sets_globals(&r, 0) != 0;
    }
    free(b.p);
    return answer;
}
