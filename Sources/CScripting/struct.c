/* `struct`: packing Lua values into binary strings and back, the library Redis gives scripts
 * (struct.pack, struct.unpack, struct.size), written from its documented format language:
 *
 *   >  big endian        <  little endian     =  native endian     !n  align to n (! alone: native)
 *   x  a padding byte    b/B  signed/unsigned char     h/H  short     l/L  long (8 bytes)
 *   T  size_t            i/In int of n bytes (default: int)          f  float     d  double
 *   s  zero-terminated string                 cn  n bytes (c0: the length is the previous value)
 *   spaces are ignored; a count may follow i, I, c and !.
 *
 * Errors are raised with luaL_error from C, never through a Swift frame. */
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "scripting.h"

#define MAXINTSIZE 32
#define MAXALIGN 8

typedef struct {
    int little;
    int align;
} header;

static int native_little(void) {
    int one = 1;
    return *(char *)&one;
}

static size_t read_number(const char **fmt, size_t otherwise) {
    if (!isdigit((unsigned char)**fmt)) return otherwise;
    size_t a = 0;
    do {
        a = a * 10 + (size_t)(*((*fmt)++) - '0');
    } while (isdigit((unsigned char)**fmt) && a <= (SIZE_MAX - 9) / 10);
    return a;
}

/* The size of one option; `opt` is the option character, `fmt` just after it. */
static size_t option_size(lua_State *L, char opt, const char **fmt) {
    switch (opt) {
    case 'B': case 'b': return sizeof(char);
    case 'H': case 'h': return sizeof(short);
    case 'L': case 'l': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return read_number(fmt, 1);
    case 'i': case 'I': {
        size_t sz = read_number(fmt, sizeof(int));
        if (sz > MAXINTSIZE) luaL_error(L, "integral size %d is larger than limit of %d", (int)sz, MAXINTSIZE);
        return sz;
    }
    default: return 0;   /* other options */
    }
}

/* Padding needed before an item of `size` at offset `len`. */
static size_t gap(lua_State *L, size_t len, size_t size, size_t align) {
    if (size <= 1 || align <= 1) return 0;
    if (size > align) size = align;
    if ((size & (size - 1)) != 0) luaL_argerror(L, 1, "alignment must be power of 2");
    return (size - (len & (size - 1))) & (size - 1);
}

static void control(lua_State *L, char opt, const char **fmt, header *h) {
    switch (opt) {
    case ' ': return;
    case '>': h->little = 0; return;
    case '<': h->little = 1; return;
    case '=': h->little = native_little(); return;
    case '!': {
        size_t a = read_number(fmt, MAXALIGN);
        if ((a & (a - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", (int)a);
        h->align = (int)a;
        return;
    }
    default: {
        const char *msg = lua_pushfstring(L, "invalid format option '%c'", opt);
        luaL_argerror(L, 1, msg);
    }
    }
}

static void put_integer(luaL_Buffer *b, lua_Number n, int little, size_t size) {
    char buf[MAXINTSIZE];
    unsigned long long value = (n < 0) ? (unsigned long long)(long long)n : (unsigned long long)n;
    for (size_t i = 0; i < size; i++) {
        /* Past eight bytes, zeros, whatever the sign (as Redis's struct writes them). */
        unsigned char byte = i < 8 ? (unsigned char)(value >> (8 * i)) : 0;
        buf[little ? i : size - 1 - i] = (char)byte;
    }
    luaL_addlstring(b, buf, size);
}

static void put_swapped(luaL_Buffer *b, const void *p, size_t size, int little) {
    char buf[sizeof(double)];
    memcpy(buf, p, size);
    if (little != native_little()) {
        for (size_t i = 0; i < size / 2; i++) {
            char t = buf[i];
            buf[i] = buf[size - 1 - i];
            buf[size - 1 - i] = t;
        }
    }
    luaL_addlstring(b, buf, size);
}

/* struct.pack(fmt, v1, v2, ...) */
static int struct_pack(lua_State *L) {
    luaL_Buffer b;
    const char *fmt = luaL_checkstring(L, 1);
    header h = { native_little(), 1 };
    int arg = 2;
    size_t total = 0;
    lua_pushnil(L);   /* where a missing argument reads "got nil", as in Redis */
    luaL_buffinit(L, &b);
    while (*fmt != '\0') {
        char opt = *fmt++;
        size_t size = option_size(L, opt, &fmt);
        size_t pad = gap(L, total, size, (size_t)h.align);
        total += pad;
        while (pad-- > 0) luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            put_integer(&b, luaL_checknumber(L, arg++), h.little, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            put_swapped(&b, &f, size, h.little);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            put_swapped(&b, &d, size, h.little);
            break;
        }
        case 'c': case 's': {
            size_t l;
            const char *s = luaL_checklstring(L, arg++, &l);
            if (size == 0) size = l;
            luaL_argcheck(L, l >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            control(L, opt, &fmt, &h);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

static lua_Number get_integer(const char *buf, int little, int is_signed, size_t size) {
    unsigned long long value = 0;
    size_t limit = size <= sizeof(value) ? size : sizeof(value);
    for (size_t i = limit; i-- > 0;) {
        value <<= 8;
        value |= (unsigned char)buf[little ? i : size - 1 - i];
    }
    if (!is_signed) return (lua_Number)value;
    unsigned long long mask = (size < sizeof(value)) ? (~0ULL << (size * 8 - 1)) : (1ULL << 63);
    if (value & mask) value |= mask;   /* sign-extend */
    return (lua_Number)(long long)value;
}

/* struct.unpack(fmt, s [, i]): the values, then the position after the last one. */
static int struct_unpack(lua_State *L) {
    header h = { native_little(), 1 };
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    size_t pos = (size_t)luaL_optinteger(L, 3, 1) - 1;
    luaL_argcheck(L, pos <= ld, 3, "offset must be 1 or greater");
    int n = 0;
    while (*fmt) {
        char opt = *fmt++;
        size_t size = option_size(L, opt, &fmt);
        pos += gap(L, pos, size, (size_t)h.align);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            lua_pushnumber(L, get_integer(data + pos, h.little, islower((unsigned char)opt), size));
            n++;
            break;
        case 'x':
            break;
        case 'f': case 'd': {
            char buf[sizeof(double)];
            memcpy(buf, data + pos, size);
            if (h.little != native_little()) {
                for (size_t i = 0; i < size / 2; i++) {
                    char t = buf[i];
                    buf[i] = buf[size - 1 - i];
                    buf[size - 1 - i] = t;
                }
            }
            if (opt == 'f') {
                float f;
                memcpy(&f, buf, sizeof f);
                lua_pushnumber(L, (lua_Number)f);
            } else {
                double d;
                memcpy(&d, buf, sizeof d);
                lua_pushnumber(L, d);
            }
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)lua_tonumber(L, -1);
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *end = memchr(data + pos, '\0', ld - pos);
            if (end == NULL) luaL_error(L, "unfinished string in data");
            size = (size_t)(end - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default:
            control(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return n + 1;
}

/* struct.size(fmt): the size of a format without variable-length items. */
static int struct_size(lua_State *L) {
    header h = { native_little(), 1 };
    const char *fmt = luaL_checkstring(L, 1);
    size_t pos = 0;
    while (*fmt) {
        char opt = *fmt++;
        size_t size = option_size(L, opt, &fmt);
        pos += gap(L, pos, size, (size_t)h.align);
        if (opt == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0) luaL_argerror(L, 1, "options 'c0' has no fixed size");
        if (!strchr("bBhHlLTiIfdxc", opt)) control(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int larder_luaopen_struct(lua_State *L) {
    static const luaL_Reg functions[] = {
        { "pack", struct_pack }, { "unpack", struct_unpack }, { "size", struct_size }, { NULL, NULL },
    };
    luaL_register(L, "struct", functions);
    return 1;
}
