/* `cmsgpack`: MessagePack for scripts, the library Redis gives them (cmsgpack.pack,
 * cmsgpack.unpack, unpack_one, unpack_limit), written from the MessagePack specification and
 * the library's documented behaviour:
 *
 * - pack(v1, v2, ...) encodes each value and concatenates them;
 * - a table whose keys are exactly 1..n is an array (an empty table too), any other a map;
 * - a number equal to an integer is the smallest integer format that holds it, any other a
 *   float32 when that keeps its value exactly, else a float64;
 * - strings use fixstr, str8, str16 or str32; nesting deeper than 16 tables packs nil;
 * - unpack reads every format of the specification (bin as strings, ext is an error) and
 *   returns each value encoded; unpack_one / unpack_limit return the offset to go on from
 *   first (-1 at the end).
 *
 * Errors are raised with luaL_error from C, never through a Swift frame. */
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include "scripting.h"

#define MAX_NESTING 16
/* reader.error: 1 for missing bytes, BAD_FORMAT for a type byte it does not read. */
#define BAD_FORMAT 2

/* The encoder's output: malloc'd memory held by a userdata whose __gc frees it, so that an
 * error raised mid-encoding loses nothing, and that encoding may push and pop on Lua's stack
 * freely (a luaL_Buffer keeps its pieces on the stack). */
typedef struct {
    unsigned char *p;
    size_t len, cap;
    lua_State *L;
} bytes;

static int bytes_gc(lua_State *L) {
    bytes *b = lua_touserdata(L, 1);
    free(b->p);
    b->p = NULL;
    return 0;
}

static void put_bytes(bytes *b, const void *p, size_t n) {
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n) cap *= 2;
        unsigned char *grown = realloc(b->p, cap);
        if (grown == NULL) luaL_error(b->L, "not enough memory");
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_be(bytes *b, unsigned char tag, uint64_t v, int bytes) {
    unsigned char buf[9];
    buf[0] = tag;
    for (int i = 0; i < bytes; i++) buf[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    put_bytes(b, buf, (size_t)bytes + 1);
}

static void encode_integer(bytes *b, int64_t v) {
    if (v >= 0) {
        if (v <= 127) { unsigned char c = (unsigned char)v; put_bytes(b, &c, 1); }
        else if (v <= 0xff) put_be(b, 0xcc, (uint64_t)v, 1);
        else if (v <= 0xffff) put_be(b, 0xcd, (uint64_t)v, 2);
        else if (v <= 0xffffffffLL) put_be(b, 0xce, (uint64_t)v, 4);
        else put_be(b, 0xcf, (uint64_t)v, 8);
    } else {
        if (v >= -32) { unsigned char c = (unsigned char)(int8_t)v; put_bytes(b, &c, 1); }
        else if (v >= -128) put_be(b, 0xd0, (uint64_t)v & 0xff, 1);
        else if (v >= -32768) put_be(b, 0xd1, (uint64_t)v & 0xffff, 2);
        else if (v >= -2147483648LL) put_be(b, 0xd2, (uint64_t)v & 0xffffffff, 4);
        else put_be(b, 0xd3, (uint64_t)v, 8);
    }
}

static void encode_number(bytes *b, lua_Number n) {
    if (n == floor(n) && n >= -9223372036854775808.0 && n < 9223372036854775808.0) {
        encode_integer(b, (int64_t)n);
        return;
    }
    float f = (float)n;
    if ((double)f == n) {
        uint32_t bits;
        memcpy(&bits, &f, 4);
        put_be(b, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &n, 8);
        put_be(b, 0xcb, bits, 8);
    }
}

static void encode_string(bytes *b, const char *s, size_t len) {
    if (len < 32) { unsigned char c = (unsigned char)(0xa0 | len); put_bytes(b, &c, 1); }
    else if (len <= 0xff) put_be(b, 0xd9, len, 1);
    else if (len <= 0xffff) put_be(b, 0xda, len, 2);
    else put_be(b, 0xdb, len, 4);
    put_bytes(b, s, len);
}

/* The table at the top: an array's length, or -1 for a map (`count` gets its size). */
static long array_length(lua_State *L, long *count) {
    long n = 0, max = 0;
    int array = 1;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
        if (array) {
            if (lua_type(L, -1) == LUA_TNUMBER) {
                lua_Number k = lua_tonumber(L, -1);
                if (k > 0 && k == floor(k)) { if ((long)k > max) max = (long)k; }
                else array = 0;
            } else {
                array = 0;
            }
        }
    }
    *count = n;
    return (array && max == n) ? n : -1;
}

static void encode_value(lua_State *L, bytes *b, int level);

static void encode_table(lua_State *L, bytes *b, int level) {
    long count;
    long n = array_length(L, &count);
    if (n >= 0) {
        if (n < 16) { unsigned char c = (unsigned char)(0x90 | n); put_bytes(b, &c, 1); }
        else if (n <= 0xffff) put_be(b, 0xdc, (uint64_t)n, 2);
        else put_be(b, 0xdd, (uint64_t)n, 4);
        for (long i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (int)i);
            encode_value(L, b, level + 1);
        }
        return;
    }
    if (count < 16) { unsigned char c = (unsigned char)(0x80 | count); put_bytes(b, &c, 1); }
    else if (count <= 0xffff) put_be(b, 0xde, (uint64_t)count, 2);
    else put_be(b, 0xdf, (uint64_t)count, 4);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        encode_value(L, b, level + 1);   /* the key (a copy) */
        encode_value(L, b, level + 1);   /* the value */
    }
}

/* Encodes the value at the top of the stack and pops it. */
static void encode_value(lua_State *L, bytes *b, int level) {
    luaL_checkstack(L, 4, "cmsgpack: nesting too deep");
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        encode_string(b, s, len);
        break;
    }
    case LUA_TBOOLEAN: {
        unsigned char c = lua_toboolean(L, -1) ? 0xc3 : 0xc2;
        put_bytes(b, &c, 1);
        break;
    }
    case LUA_TNUMBER:
        encode_number(b, lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        if (level < MAX_NESTING) { encode_table(L, b, level); break; }
        /* fall through: too deep, nil */
    default: {
        unsigned char c = 0xc0;
        put_bytes(b, &c, 1);
    }
    }
    lua_pop(L, 1);
}

/* cmsgpack.pack(v1, ...) */
static int mp_pack(lua_State *L) {
    int n = lua_gettop(L);
    if (n == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    bytes *b = lua_newuserdata(L, sizeof *b);
    b->p = NULL;
    b->len = b->cap = 0;
    b->L = L;
    lua_newtable(L);
    lua_pushcfunction(L, bytes_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    for (int i = 1; i <= n; i++) {
        lua_pushvalue(L, i);
        encode_value(L, b, 0);
    }
    lua_pushlstring(L, (const char *)b->p, b->len);
    free(b->p);
    b->p = NULL;
    return 1;
}

typedef struct {
    const unsigned char *s;
    size_t len;
    size_t pos;
    int error;
} reader;

static uint64_t read_be(reader *r, int bytes) {
    uint64_t v = 0;
    if (r->len - r->pos < (size_t)bytes) { r->error = 1; return 0; }
    for (int i = 0; i < bytes; i++) v = (v << 8) | r->s[r->pos + (size_t)i];
    r->pos += (size_t)bytes;
    return v;
}

static void decode_value(lua_State *L, reader *r);

static void decode_string(lua_State *L, reader *r, size_t len) {
    if (r->len - r->pos < len) { r->error = 1; lua_pushnil(L); return; }
    lua_pushlstring(L, (const char *)r->s + r->pos, len);
    r->pos += len;
}

static void decode_array(lua_State *L, reader *r, size_t n) {
    luaL_checkstack(L, 4, "cmsgpack: nesting too deep");
    lua_newtable(L);
    for (size_t i = 1; i <= n && !r->error; i++) {
        decode_value(L, r);
        lua_rawseti(L, -2, (int)i);
    }
}

static void decode_map(lua_State *L, reader *r, size_t n) {
    luaL_checkstack(L, 4, "cmsgpack: nesting too deep");
    lua_newtable(L);
    for (size_t i = 0; i < n && !r->error; i++) {
        decode_value(L, r);
        decode_value(L, r);
        if (lua_isnil(L, -2)) lua_pop(L, 2);   /* a nil key cannot be stored */
        else lua_rawset(L, -3);
    }
}

static void decode_value(lua_State *L, reader *r) {
    if (r->pos >= r->len) { r->error = 1; lua_pushnil(L); return; }
    unsigned char c = r->s[r->pos++];
    if (c <= 0x7f) { lua_pushnumber(L, c); return; }
    if (c >= 0xe0) { lua_pushnumber(L, (int8_t)c); return; }
    if ((c & 0xe0) == 0xa0) { decode_string(L, r, c & 0x1f); return; }
    if ((c & 0xf0) == 0x90) { decode_array(L, r, c & 0x0f); return; }
    if ((c & 0xf0) == 0x80) { decode_map(L, r, c & 0x0f); return; }
    switch (c) {
    case 0xc0: lua_pushnil(L); return;
    case 0xc2: lua_pushboolean(L, 0); return;
    case 0xc3: lua_pushboolean(L, 1); return;
    case 0xcc: lua_pushnumber(L, (lua_Number)read_be(r, 1)); return;
    case 0xcd: lua_pushnumber(L, (lua_Number)read_be(r, 2)); return;
    case 0xce: lua_pushnumber(L, (lua_Number)read_be(r, 4)); return;
    case 0xcf: lua_pushnumber(L, (lua_Number)read_be(r, 8)); return;
    case 0xd0: lua_pushnumber(L, (int8_t)read_be(r, 1)); return;
    case 0xd1: lua_pushnumber(L, (int16_t)read_be(r, 2)); return;
    case 0xd2: lua_pushnumber(L, (int32_t)read_be(r, 4)); return;
    case 0xd3: lua_pushnumber(L, (lua_Number)(int64_t)read_be(r, 8)); return;
    case 0xca: {
        uint32_t bits = (uint32_t)read_be(r, 4);
        float f;
        memcpy(&f, &bits, 4);
        lua_pushnumber(L, f);
        return;
    }
    case 0xcb: {
        uint64_t bits = read_be(r, 8);
        double d;
        memcpy(&d, &bits, 8);
        lua_pushnumber(L, d);
        return;
    }
    case 0xd9: { size_t n = (size_t)read_be(r, 1); decode_string(L, r, n); return; }
    case 0xda: { size_t n = (size_t)read_be(r, 2); decode_string(L, r, n); return; }
    case 0xdb: { size_t n = (size_t)read_be(r, 4); decode_string(L, r, n); return; }
    case 0xdc: { size_t n = (size_t)read_be(r, 2); decode_array(L, r, n); return; }
    case 0xdd: { size_t n = (size_t)read_be(r, 4); decode_array(L, r, n); return; }
    case 0xde: { size_t n = (size_t)read_be(r, 2); decode_map(L, r, n); return; }
    case 0xdf: { size_t n = (size_t)read_be(r, 4); decode_map(L, r, n); return; }
    default: r->error = BAD_FORMAT; lua_pushnil(L); return;   /* bin, ext and 0xc1 too, as Redis's */
    }
}

/* Decodes up to `limit` values (0: all) from `offset`; pushes the offset to go on from
 * (-1 at the end) when `with_offset`, then the values. */
static int unpack_values(lua_State *L, int limit, size_t offset, int with_offset) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    reader r = { (const unsigned char *)s, len, offset, 0 };
    if (offset > len) return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset, (int)len);
    int base = lua_gettop(L);
    if (with_offset) lua_pushnil(L);   /* the offset's slot */
    int count = 0;
    while (r.pos < r.len && (limit == 0 || count < limit)) {
        luaL_checkstack(L, 2, "cmsgpack: too many values");
        decode_value(L, &r);
        if (r.error) {
            lua_settop(L, base);
            return luaL_error(L, r.error == BAD_FORMAT ? "Bad data format in input." : "Missing bytes in input.");
        }
        count++;
    }
    if (with_offset) {
        lua_pushnumber(L, r.pos >= r.len ? -1 : (lua_Number)r.pos);
        lua_replace(L, base + 1);
        return count + 1;
    }
    return count;
}

/* cmsgpack.unpack(s) */
static int mp_unpack(lua_State *L) { return unpack_values(L, 0, 0, 0); }

/* cmsgpack.unpack_one(s [, offset]) */
static int mp_unpack_one(lua_State *L) {
    lua_Number offset = luaL_optnumber(L, 2, 0);
    lua_settop(L, 1);
    return unpack_values(L, 1, offset < 0 ? 0 : (size_t)offset, 1);
}

/* cmsgpack.unpack_limit(s, limit [, offset]) */
static int mp_unpack_limit(lua_State *L) {
    int limit = (int)luaL_checknumber(L, 2);
    lua_Number offset = luaL_optnumber(L, 3, 0);
    lua_settop(L, 1);
    return unpack_values(L, limit < 0 ? 0 : limit, offset < 0 ? 0 : (size_t)offset, 1);
}

int larder_luaopen_cmsgpack(lua_State *L) {
    static const luaL_Reg functions[] = {
        { "pack", mp_pack }, { "unpack", mp_unpack }, { "unpack_one", mp_unpack_one },
        { "unpack_limit", mp_unpack_limit }, { NULL, NULL },
    };
    luaL_register(L, "cmsgpack", functions);
    return 1;
}
