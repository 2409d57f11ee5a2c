/* core_json.c — cohort's JSON decoder: core.decode, and the decode of error bodies.
 *
 * One pass over the text builds the Lua value directly (no intermediate tree, no C heap):
 *   - objects -> tables with string keys; an object field whose value is null is left out;
 *     duplicate keys: the last one wins (a later null removes an earlier value), as with
 *     lua-cjson followed by cohort's old integer pass;
 *   - arrays -> sequences 1..n; null inside an array -> the light userdata NULL, which is
 *     `cjson.null`, so arrays keep their length; a top-level null is that userdata too;
 *   - {} and [] -> empty tables (no metatable, as lua-cjson 2.1.0);
 *   - numbers (Lua 5.3+): a token without fraction or exponent that fits in 64 bits is an
 *     integer; any other number whose value is integral with |v| < 2^53 is an integer too
 *     ("150.0" -> 150, "1e2" -> 100); everything else a float (strtod). On Lua 5.1 and LuaJIT,
 *     which have no integer subtype, every number is a plain lua_Number. (This is the one place
 *     besides core.c that tests LUA_VERSION_NUM: compat.h has no shim for integer subtypes.)
 *   - strings: every RFC 8259 escape; \uXXXX becomes UTF-8, a surrogate pair one 4-byte
 *     sequence; \u0000 an embedded NUL. A lone surrogate (a high one not followed by a \u low
 *     one, or a low one alone) is an error, "invalid unicode escape code", as lua-cjson 2.1.0
 *     has it: a lone surrogate has no UTF-8 form. Raw bytes >= 0x80 are passed through
 *     unchecked (as lua-cjson); raw control characters < 0x20 are an error (RFC 8259).
 *   - strict grammar otherwise: no NaN, Infinity, hex, '+', leading zeros, comments or trailing
 *     commas; whitespace (space, tab, CR, LF) around values; anything after the top value but
 *     whitespace is an error.
 *   - at most JSON_MAX_DEPTH nested arrays/objects (lua-cjson's default, 1000).
 *
 * Errors are raised as Lua errors with lua-cjson's wording, which names the token found the
 * way lua-cjson does (T_END, T_ARR_END, ... or a description) and the 1-based position:
 *   "Expected value but found invalid token at character 1"
 *   "Expected comma or array end but found T_NUMBER at character 4"
 *   "Expected value but found invalid escape code at character 7"   (the backslash)
 *   "Found too many nested data structures (1001) at character 1001"
 * Nothing in cohort matches on these texts; they only have to be clear.
 *
 * Memory: all intermediate values live on the Lua stack (an object's key/value pairs or an
 * array's elements are pushed, counted, and only then go into a table created at its exact
 * size); escaped strings use a luaL_Buffer. A raised error therefore leaves nothing to free.
 * So that no nesting of large containers can exhaust the Lua stack (Lua 5.1 and LuaJIT give a
 * C function 8000 slots), each open container holds at most a depth-dependent number of pending
 * values (json_cap) before moving them into its table; parsing then goes on.
 *
 * Speed: strings without escapes are pushed straight from the text after a 16-bytes-at-a-time
 * scan (json_scan); object keys come from a small per-state cache of interned strings
 * (json_string), since API answers repeat the same keys in every object; tables are created at
 * their final size. About 2.3 times fewer instructions than lua-cjson plus the old integer
 * pass on a Prolific submission.
 *
 * The scanner relies on the '\0' that ends every Lua string: loops stop at it, and only then
 * is it told apart from an embedded NUL by comparing with the end of the text. */
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
/* Three scanners for json_scan: SSE2, 8 bytes at a time (SWAR), byte by byte. The fastest the
 * target has is used; COHORT_JSON_NO_SSE2 and COHORT_JSON_NO_SWAR force a slower one, so that
 * `make check` can build and test each (tools/check.sh), and the name of the one built is kept
 * in the binary for it to verify. */
#if defined(__SSE2__) && !defined(COHORT_JSON_NO_SSE2)
#  define JSON_SCAN_SSE2 1
#  define JSON_SCAN_NAME "sse2"
#  include <emmintrin.h>
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
      !defined(COHORT_JSON_NO_SWAR)
#  define JSON_SCAN_SWAR 1
#  define JSON_SCAN_NAME "swar"
#else
#  define JSON_SCAN_NAME "bytes"
#endif
#include "core.h"

__attribute__((used)) static const char json_scan_name[] = "cohort-json-scanner=" JSON_SCAN_NAME;

#define JSON_MAX_DEPTH 1000
#define JSON_STACK_NEED 32 /* free Lua stack slots wanted before each element */

typedef struct jparser {
    lua_State *L;
    const char *text; /* start of the text */
    const char *p;    /* cursor */
    const char *end;  /* text + length; *end == '\0' */
    int depth;
    int keys;         /* stack index of the key cache (json_string) */
} jparser;

/* 1 for the bytes that end the fast scan of a string: '"', '\\' and control characters. */
static const unsigned char json_str_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

#define JSON_IS_DIGIT(c) ((unsigned char)((c) - '0') < 10)
#define JSON_SKIP_WS(q) \
    while (*(q) == ' ' || *(q) == '\n' || *(q) == '\r' || *(q) == '\t') (q)++

/* What lua-cjson calls the token that starts at q. */
static const char *json_found(const jparser *jp, const char *q)
{
    switch (*q) {
    case '{': return "T_OBJ_BEGIN";
    case '}': return "T_OBJ_END";
    case '[': return "T_ARR_BEGIN";
    case ']': return "T_ARR_END";
    case ',': return "T_COMMA";
    case ':': return "T_COLON";
    case '"': return "T_STRING";
    case '-': return "T_NUMBER";
    case 't': return strncmp(q, "true", 4) == 0 ? "T_BOOLEAN" : "invalid token";
    case 'f': return strncmp(q, "false", 5) == 0 ? "T_BOOLEAN" : "invalid token";
    case 'n': return strncmp(q, "null", 4) == 0 ? "T_NULL" : "invalid token";
    case '\0': return q == jp->end ? "T_END" : "invalid token";
    default: return JSON_IS_DIGIT(*q) ? "T_NUMBER" : "invalid token";
    }
}

static void json_fail(jparser *jp, const char *expected, const char *found, const char *at)
    __attribute__((noreturn));
static void json_fail(jparser *jp, const char *expected, const char *found, const char *at)
{
    char msg[160];
    snprintf(msg, sizeof msg, "Expected %s but found %s at character %llu", expected, found,
             (unsigned long long)(at - jp->text) + 1);
    lua_pushstring(jp->L, msg);
    lua_error(jp->L);
    abort(); /* not reached */
}

static void json_fail_token(jparser *jp, const char *expected, const char *at)
    __attribute__((noreturn));
static void json_fail_token(jparser *jp, const char *expected, const char *at)
{
    json_fail(jp, expected, json_found(jp, at), at);
}

/* Value of 4 hex digits at q, or -1. Stops at the terminating '\0' like any non-hex byte. */
static int json_hex4(const char *q)
{
    int i, v = 0;
    for (i = 0; i < 4; i++) {
        int c = (unsigned char)q[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = (v << 4) | d;
    }
    return v;
}

/* The first byte at or after q that is '"', '\\' or a control character (the final '\0' is
 * one). 16 bytes at a time with SSE2 (every x86-64) while 16 remain before the end, else 8 at
 * a time (little-endian: the lowest flagged byte of each test is exact, borrows only flag
 * bytes above it), and the rest one by one. */
static const char *json_scan(const char *q, const char *end)
{
#if defined(JSON_SCAN_SSE2)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  ctl = _mm_set1_epi8(0x1F);
    while (end - q >= 16) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)q);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, bslash)),
                                   _mm_cmpeq_epi8(_mm_min_epu8(w, ctl), w)); /* w <= 0x1F */
        int m = _mm_movemask_epi8(hit);
        if (m) return q + __builtin_ctz((unsigned)m);
        q += 16;
    }
#elif defined(JSON_SCAN_SWAR)
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - q >= 8) {
        uint64_t w, x1, x2, t;
        memcpy(&w, q, 8);
        x1 = w ^ (ones * '"');
        x2 = w ^ (ones * '\\');
        t = (((x1 - ones) & ~x1) | ((x2 - ones) & ~x2) | ((w - ones * 0x20) & ~w)) & highs;
        if (t) return q + (__builtin_ctzll(t) >> 3);
        q += 8;
    }
#else
    (void)end;
#endif
    while (!json_str_stop[(unsigned char)*q]) q++;
    return q;
}

/* The rest of a string that holds escapes: q is the first byte that stopped the fast scan,
 * start the first byte of the string's content. Pushes the string; returns past the quote. */
__attribute__((noinline)) static const char *json_string_slow(jparser *jp, const char *ctx,
                                                              const char *start, const char *q)
{
    lua_State *L = jp->L;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, start, (size_t)(q - start));
    for (;;) {
        const char *run = q;
        q = json_scan(q, jp->end);
        if (q > run) luaL_addlstring(&b, run, (size_t)(q - run));
        if (*q == '"') break;
        if (*q == '\\') {
            char c;
            switch (q[1]) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                long cp = json_hex4(q + 2);
                int len = 6;
                char u[4];
                if (cp < 0) json_fail(jp, ctx, "invalid unicode escape code", q);
                if ((cp & 0xF800) == 0xD800) { /* a surrogate: must be a high + low pair */
                    long lo;
                    if ((cp & 0x400) || q[6] != '\\' || q[7] != 'u' ||
                        (lo = json_hex4(q + 8)) < 0 || (lo & 0xFC00) != 0xDC00)
                        json_fail(jp, ctx, "invalid unicode escape code", q);
                    cp = 0x10000 + (((cp & 0x3FF) << 10) | (lo & 0x3FF));
                    len = 12;
                }
                if (cp < 0x80) {
                    luaL_addchar(&b, (char)cp);
                } else if (cp < 0x800) {
                    u[0] = (char)(0xC0 | (cp >> 6));
                    u[1] = (char)(0x80 | (cp & 0x3F));
                    luaL_addlstring(&b, u, 2);
                } else if (cp < 0x10000) {
                    u[0] = (char)(0xE0 | (cp >> 12));
                    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    u[2] = (char)(0x80 | (cp & 0x3F));
                    luaL_addlstring(&b, u, 3);
                } else {
                    u[0] = (char)(0xF0 | (cp >> 18));
                    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    u[3] = (char)(0x80 | (cp & 0x3F));
                    luaL_addlstring(&b, u, 4);
                }
                q += len;
                continue;
            }
            default:
                json_fail(jp, ctx, "invalid escape code", q);
            }
            luaL_addchar(&b, c);
            q += 2;
            continue;
        }
        /* a control character, or the end of the text */
        if (q == jp->end) json_fail(jp, ctx, "unexpected end of string", q);
        json_fail(jp, ctx, "invalid control character in string", q);
    }
    luaL_pushresult(&b);
    return q + 1;
}

/* Interned object keys, by a hash of their bytes: a Lua table of JSON_KEYS strings in the
 * registry (one per lua_State, under the address of json_keys_tag). A key found there is
 * pushed from it, which is cheaper than interning it anew (hashing and looking up every byte):
 * API answers repeat the same few keys in every object. Only keys without escapes, of at
 * most JSON_KEY_MAX bytes, are kept; a slot holds the last key that hashed to it. */
#define JSON_KEYS 256
#define JSON_KEY_MAX 40
static const char json_keys_tag = 0;

static unsigned json_key_hash(const unsigned char *k, size_t n)
{
    uint64_t a, b;
    if (n >= 8) {
        memcpy(&a, k, 8);
        memcpy(&b, k + n - 8, 8);
    } else {
        size_t i;
        a = b = 0;
        for (i = 0; i < n; i++) a = (a << 8) | k[i];
    }
    a = (a ^ (b * 0x9E3779B97F4A7C15ULL) ^ n) * 0xD6E8FEB86659FD93ULL;
    return (unsigned)(a >> 56) % JSON_KEYS;
}

/* A string at jp->p (the opening quote): pushes it. Strings without escapes are pushed
 * straight from the text; keys through the cache at stack index jp->keys. */
static void json_string(jparser *jp, const char *ctx, int key)
{
    const char *start = jp->p + 1, *q = json_scan(start, jp->end);
    if (*q == '"') {
        lua_State *L = jp->L;
        size_t n = (size_t)(q - start);
        jp->p = q + 1;
        if (key && n <= JSON_KEY_MAX) {
            int slot = (int)json_key_hash((const unsigned char *)start, n) + 1;
            size_t cn;
            const char *c;
            lua_rawgeti(L, jp->keys, slot);
            c = lua_tolstring(L, -1, &cn);
            if (c != NULL && cn == n && memcmp(c, start, n) == 0) return;
            lua_pop(L, 1);
            lua_pushlstring(L, start, n);
            lua_pushvalue(L, -1);
            lua_rawseti(L, jp->keys, slot);
            return;
        }
        lua_pushlstring(L, start, n);
    } else {
        jp->p = json_string_slow(jp, ctx, start, q);
    }
}

/* A number at jp->p ('-' or a digit): pushes it. */
static void json_number(jparser *jp, const char *ctx)
{
    lua_State *L = jp->L;
    const char *start = jp->p, *q = start;
    uint64_t u = 0;
    int neg = 0, ndigits = 0, isfloat = 0;
    if (*q == '-') { neg = 1; q++; }
    if (*q == '0') {
        q++;
        ndigits = 1;
        if (JSON_IS_DIGIT(*q)) json_fail(jp, ctx, "invalid number", start); /* leading zero */
    } else if (JSON_IS_DIGIT(*q)) {
        do {
            u = u * 10 + (uint64_t)(*q - '0'); /* wraps past 19 digits: ndigits says so */
            q++;
            ndigits++;
        } while (JSON_IS_DIGIT(*q));
    } else {
        json_fail(jp, ctx, "invalid number", start);
    }
    if (*q == '.') {
        q++;
        if (!JSON_IS_DIGIT(*q)) json_fail(jp, ctx, "invalid number", start);
        while (JSON_IS_DIGIT(*q)) q++;
        isfloat = 1;
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!JSON_IS_DIGIT(*q)) json_fail(jp, ctx, "invalid number", start);
        while (JSON_IS_DIGIT(*q)) q++;
        isfloat = 1;
    }
    jp->p = q;
#if LUA_VERSION_NUM >= 503
    if (!isfloat && (ndigits < 19 || (ndigits == 19 && u <= (uint64_t)INT64_MAX + (uint64_t)neg))) {
        /* fits in 64 bits: an integer; -(u - 1) - 1 reaches INT64_MIN without overflow */
        lua_pushinteger(L, (lua_Integer)(!neg ? (int64_t)u : u == 0 ? 0 : -(int64_t)(u - 1) - 1));
        return;
    }
#else
    if (!isfloat && ndigits <= 19) { /* exact in 64 bits; one rounding to double */
        lua_Number v = (lua_Number)u;
        lua_pushnumber(L, neg ? -v : v);
        return;
    }
#endif
    {
        char *stop;
        double v = strtod(start, &stop);
        if (stop != q) {
            /* strtod follows LC_NUMERIC: retry with the locale's decimal point */
            char buf[400];
            size_t n = (size_t)(q - start), i;
            const char *dp = localeconv()->decimal_point;
            if (n >= sizeof buf || dp == NULL || dp[0] == '\0' || dp[1] != '\0')
                json_fail(jp, ctx, "invalid number", start);
            for (i = 0; i < n; i++) buf[i] = start[i] == '.' ? dp[0] : start[i];
            buf[n] = '\0';
            v = strtod(buf, &stop);
            if (stop != buf + n) json_fail(jp, ctx, "invalid number", start);
        }
#if LUA_VERSION_NUM >= 503
        if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v) {
            lua_pushinteger(L, (lua_Integer)(int64_t)v);
            return;
        }
#endif
        lua_pushnumber(L, (lua_Number)v);
    }
}

static int json_value(jparser *jp, const char *ctx);

/* Lua stack slots that pending values may fill in all: a C function gets at most
 * LUAI_MAXCSTACK slots on Lua 5.1 and LuaJIT; on 5.3+ the whole thread has LUAI_MAXSTACK. */
#if defined(LUAI_MAXCSTACK)
#  define JSON_STACK_BUDGET (LUAI_MAXCSTACK - 200)
#elif defined(LUAI_MAXSTACK)
#  define JSON_STACK_BUDGET (LUAI_MAXSTACK / 2)
#else
#  define JSON_STACK_BUDGET 7800
#endif

/* How many pending slots a container at depth d (1 = the top) may hold before it moves them
 * into its table: budget / 4d^2, at least 2. The caps of all the open containers add up to at
 * most 0.42 budget + 2 per level (sum of 1/d^2 < 1.65); with a table slot and an object key
 * per level, 1000 levels take at most 0.42 budget + 4000 slots (under 8000 on Lua 5.1), so
 * the containers around the one being parsed never take the room its own values need,
 * whatever the nesting, and the usual documents (a few levels, some thousands of values)
 * still get tables of the exact size. */
static int json_cap(int depth)
{
    int cap = JSON_STACK_BUDGET / (4 * depth * depth);
    return cap < 2 ? 2 : cap;
}

/* Makes sure JSON_STACK_NEED slots are free before one more element; when the Lua stack
 * cannot grow (the caller already used most of it), moves the pending values of the current
 * container into its table first, and raises only if that is not enough. */
#define JSON_ROOM(jp, flush)                                                     \
    do {                                                                         \
        if (!lua_checkstack((jp)->L, JSON_STACK_NEED)) {                         \
            flush;                                                               \
            luaL_checkstack((jp)->L, JSON_STACK_NEED, "JSON too deeply nested"); \
        }                                                                        \
    } while (0)

/* Sets the n pending key/value pairs above tpos into the table (created at tpos, with room for
 * nrec fields, when *made is 0), in order; a nil value (a null) removes the key. */
static void json_object_flush(lua_State *L, int tpos, int n, int nrec, int *made)
{
    int i, k;
    if (!*made) {
        lua_createtable(L, 0, nrec);
        lua_replace(L, tpos);
        *made = 1;
    }
    for (i = 0, k = tpos + 1; i < n; i++, k += 2) {
        if (lua_isnil(L, k + 1)) { /* a null field: drop it, and any earlier value of the key */
            lua_pushvalue(L, k);
            lua_rawget(L, tpos);
            if (!lua_isnil(L, -1)) {
                lua_pushvalue(L, k);
                lua_pushnil(L);
                lua_rawset(L, tpos);
            }
            lua_pop(L, 1);
        } else {
            lua_pushvalue(L, k);
            lua_pushvalue(L, k + 1);
            lua_rawset(L, tpos);
        }
    }
    lua_settop(L, tpos);
}

/* Sets the n pending elements above tpos into the table at indices base+1..base+n: the first
 * time into a table created with exactly n slots (popping from the top), later in order, so
 * that the array part grows as by appending. */
static void json_array_flush(lua_State *L, int tpos, int n, int base, int *made)
{
    int i;
    if (!*made) {
        lua_createtable(L, n, 0);
        lua_replace(L, tpos);
        *made = 1;
        for (; n > 0; n--) lua_rawseti(L, tpos, base + n);
        return;
    }
    for (i = 1; i <= n; i++) {
        lua_pushvalue(L, tpos + i);
        lua_rawseti(L, tpos, base + i);
    }
    lua_settop(L, tpos);
}

static void json_enter(jparser *jp)
{
    if (++jp->depth > JSON_MAX_DEPTH) {
        char msg[120];
        snprintf(msg, sizeof msg, "Found too many nested data structures (%d) at character %llu",
                 jp->depth, (unsigned long long)(jp->p - jp->text) + 1);
        lua_pushstring(jp->L, msg);
        lua_error(jp->L);
    }
}

/* Opens the container at jp->p ('{' or '['): one level deeper, past the bracket and the
 * whitespace after it, with a nil pushed as the slot of its table (the pending keys and values
 * go above it). Returns that slot's index, negated when the container is empty (its closing
 * bracket is consumed then); *cap is how many values may wait above the slot. */
static int json_open(jparser *jp, char close, int *cap)
{
    int tpos;
    json_enter(jp);
    *cap = json_cap(jp->depth);
    jp->p++;
    luaL_checkstack(jp->L, JSON_STACK_NEED, "JSON too deeply nested");
    lua_pushnil(jp->L);
    tpos = lua_gettop(jp->L);
    JSON_SKIP_WS(jp->p);
    if (*jp->p == close) {
        jp->p++;
        return -tpos;
    }
    return tpos;
}

/* An object at jp->p ('{'): pushes the table. */
static void json_object(jparser *jp)
{
    lua_State *L = jp->L;
    int tpos, n = 0, nrec = 0, made = 0, cap;
    tpos = json_open(jp, '}', &cap);
    if (tpos < 0) {
        tpos = -tpos; /* {} */
    } else {
        for (;;) {
            JSON_SKIP_WS(jp->p);
            if (*jp->p != '"') json_fail_token(jp, "object key string", jp->p);
            JSON_ROOM(jp, (json_object_flush(L, tpos, n, nrec, &made), n = 0));
            json_string(jp, "object key string", 1);
            JSON_SKIP_WS(jp->p);
            if (*jp->p != ':') json_fail_token(jp, "colon", jp->p);
            jp->p++;
            if (json_value(jp, "value")) nrec++;
            else lua_pushnil(L);
            if (++n * 2 >= cap) {
                json_object_flush(L, tpos, n, nrec, &made);
                n = 0;
            }
            JSON_SKIP_WS(jp->p);
            if (*jp->p == ',') { jp->p++; continue; }
            if (*jp->p == '}') { jp->p++; break; }
            json_fail_token(jp, "comma or object end", jp->p);
        }
    }
    json_object_flush(L, tpos, n, nrec, &made);
    jp->depth--;
}

/* An array at jp->p ('['): pushes the table. */
static void json_array(jparser *jp)
{
    lua_State *L = jp->L;
    int tpos, n = 0, base = 0, made = 0, cap;
    tpos = json_open(jp, ']', &cap);
    if (tpos < 0) {
        tpos = -tpos; /* [] */
    } else {
        for (;;) {
            JSON_ROOM(jp, (json_array_flush(L, tpos, n, base, &made), base += n, n = 0));
            if (!json_value(jp, "value")) lua_pushlightuserdata(L, NULL); /* cjson.null */
            if (++n >= cap) {
                json_array_flush(L, tpos, n, base, &made);
                base += n;
                n = 0;
            }
            JSON_SKIP_WS(jp->p);
            if (*jp->p == ',') { jp->p++; continue; }
            if (*jp->p == ']') { jp->p++; break; }
            json_fail_token(jp, "comma or array end", jp->p);
        }
    }
    json_array_flush(L, tpos, n, base, &made);
    jp->depth--;
}

/* One value at jp->p (after optional whitespace): pushes it and returns 1, or, for null,
 * pushes nothing and returns 0 (the caller knows what a null becomes where it stands). */
static int json_value(jparser *jp, const char *ctx)
{
    const char *q;
    JSON_SKIP_WS(jp->p);
    q = jp->p;
    switch (*q) {
    case '"': json_string(jp, ctx, 0); return 1;
    case '{': json_object(jp); return 1;
    case '[': json_array(jp); return 1;
    case 't':
        if (q[1] == 'r' && q[2] == 'u' && q[3] == 'e') {
            jp->p = q + 4;
            lua_pushboolean(jp->L, 1);
            return 1;
        }
        break;
    case 'f':
        if (q[1] == 'a' && q[2] == 'l' && q[3] == 's' && q[4] == 'e') {
            jp->p = q + 5;
            lua_pushboolean(jp->L, 0);
            return 1;
        }
        break;
    case 'n':
        if (q[1] == 'u' && q[2] == 'l' && q[3] == 'l') {
            jp->p = q + 4;
            return 0;
        }
        break;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        json_number(jp, ctx);
        return 1;
    default:
        break;
    }
    json_fail_token(jp, ctx, q);
}

/* core.decode(text) -> value. Raises a Lua error on malformed JSON. */
int json_ldecode(lua_State *L)
{
    size_t len;
    jparser jp;
    jp.text = luaL_checklstring(L, 1, &len);
    jp.L = L;
    jp.p = jp.text;
    jp.end = jp.text + len;
    jp.depth = 0;
    lua_settop(L, 1);
    luaL_checkstack(L, JSON_STACK_NEED, "JSON too deeply nested");
    lua_pushlightuserdata(L, (void *)&json_keys_tag);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, JSON_KEYS, 0);
        lua_pushlightuserdata(L, (void *)&json_keys_tag);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    jp.keys = lua_gettop(L);
    if (!json_value(&jp, "value")) lua_pushlightuserdata(L, NULL);
    JSON_SKIP_WS(jp.p);
    if (jp.p != jp.end) json_fail_token(&jp, "the end", jp.p);
    return 1;
}
