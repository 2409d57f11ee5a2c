/* core_url.c — URL building: base + path template with ids + sorted query.
 *
 * Every id becomes exactly one path segment: everything but ALPHA, DIGIT, '-', '_' and '~' is
 * percent-encoded, '.' included, so no id ("..", "../studies", "a/b?c") can change the path.
 * Query keys and values are encoded the same way but keep '.'. Everything here runs before any C
 * resource is allocated, so raising a Lua error is safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

static const char url_hex[] = "0123456789ABCDEF";

/* Pushes the string form of the scalar at idx (string, number, boolean); 0 if not a scalar. */
static int url_scalar(lua_State *L, int idx)
{
    char num[64];
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        lua_pushvalue(L, idx);
        return 1;
    case LUA_TNUMBER: {
        lua_Number v = lua_tonumber(L, idx);
        if (v != v || v - v != 0) return 0; /* NaN or infinite */
        if (lua_isinteger(L, idx)) {
            lua_pushvalue(L, idx);
            lua_tostring(L, -1);
        } else if (v == (lua_Number)(long long)v && v > -9007199254740992.0 &&
                   v < 9007199254740992.0) {
            snprintf(num, sizeof num, "%lld", (long long)v);
            lua_pushstring(L, num);
        } else {
            snprintf(num, sizeof num, "%.17g", (double)v);
            lua_pushstring(L, num);
        }
        return 1;
    }
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
        return 1;
    default:
        return 0;
    }
}

static int url_key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The URL is assembled in one C buffer: first a fixed array on the C stack, then, for a long
 * URL, a Lua userdata held in the stack slot `anchor` (a raise leaves it to the GC), and pushed
 * as one string at the end. */
typedef struct urlbuf {
    lua_State *L;
    int anchor;
    char *p;
    size_t n, cap;
    char fixed[1024];
} urlbuf;

static void ub_need(urlbuf *b, size_t more)
{
    size_t cap;
    char *np;
    if (b->n + more <= b->cap) return;
    cap = b->cap * 2;
    while (cap < b->n + more) cap *= 2;
    np = (char *)COHORT_NEWUDATA(b->L, cap);
    memcpy(np, b->p, b->n);
    lua_replace(b->L, b->anchor); /* the old userdata, if any, is garbage now */
    b->p = np;
    b->cap = cap;
}

static void ub_add(urlbuf *b, const char *s, size_t n)
{
    ub_need(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* Appends s percent-encoded (see the top of this file). */
static void ub_add_encoded(urlbuf *b, const char *s, size_t n, int keep_dot)
{
    size_t i;
    char *o;
    ub_need(b, 3 * n);
    o = b->p + b->n;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '~' || (keep_dot && c == '.')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = url_hex[c >> 4];
            *o++ = url_hex[c & 15];
        }
    }
    b->n = (size_t)(o - b->p);
}

static void url_add_pair(lua_State *L, urlbuf *b, int *nq, const char *key, int vidx)
{
    size_t vn;
    const char *v;
    vidx = lua_absindex(L, vidx);
    if (!url_scalar(L, vidx))
        luaL_error(L, "cohort.core: query value for '%s' must be a string, number or boolean",
                   key);
    v = lua_tolstring(L, -1, &vn);
    ub_add(b, (*nq)++ == 0 ? "?" : "&", 1);
    ub_add_encoded(b, key, strlen(key), 1);
    ub_add(b, "=", 1);
    ub_add_encoded(b, v, vn, 1);
    lua_pop(L, 1); /* the scalar */
}

/* req at index `req`: {base=, path=, ids=, query=} or {base=, url=}. Pushes the URL.
 * Raises on misuse; allocates nothing that a raise could leak. */
void url_build(lua_State *L, int req, const char *secret_query)
{
    size_t n, i, nkeys = 0;
    const char *base, *path, *p, *mark;
    int ids, query, top, nq = 0;
    const char **keys = NULL;
    urlbuf b;

    req = lua_absindex(L, req);
    top = lua_gettop(L);
    lua_pushnil(L); /* top + 1: the buffer's anchor, then the result */
    b.L = L;
    b.anchor = top + 1;
    b.p = b.fixed;
    b.n = 0;
    b.cap = sizeof b.fixed;
    lua_getfield(L, req, "base");
    base = lua_tolstring(L, -1, &n);
    if (base == NULL) luaL_error(L, "cohort.core: request.base must be a string");
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        luaL_error(L, "cohort.core: request.base must start with http:// or https://");
    while (n > 0 && base[n - 1] == '/') n--;

    lua_getfield(L, req, "url");
    if (!lua_isnil(L, -1)) {
        size_t un;
        const char *u = lua_tolstring(L, -1, &un);
        if (u == NULL || !url_same_origin(base, u))
            luaL_error(L, "cohort.core: absolute url is not on the origin of base");
        ub_add(&b, u, un);
        nq = strchr(u, '?') != NULL;
    } else {
        ub_add(&b, base, n);
        lua_getfield(L, req, "path");
        path = lua_tostring(L, -1);
        if (path == NULL) path = "";
        lua_getfield(L, req, "ids");
        ids = lua_gettop(L);
        lua_getfield(L, req, "query");
        query = lua_gettop(L);
        if (!lua_isnil(L, query) && !lua_istable(L, query))
            luaL_error(L, "cohort.core: request.query must be a table");
        if (lua_istable(L, query)) {
            lua_pushnil(L);
            while (lua_next(L, query) != 0) {
                lua_pop(L, 1);
                if (lua_type(L, -1) != LUA_TSTRING)
                    luaL_error(L, "cohort.core: query keys must be strings");
                nkeys++;
            }
        }
        if (nkeys > 0) {
            /* a userdata holds the key array, so a raise leaves it to the GC */
            keys = (const char **)COHORT_NEWUDATA(L, nkeys * sizeof(char *));
            i = 0;
            lua_pushnil(L);
            while (lua_next(L, query) != 0) {
                lua_pop(L, 1);
                keys[i++] = lua_tostring(L, -1); /* anchored by the query table */
            }
            qsort(keys, nkeys, sizeof(char *), url_key_cmp);
        }
        if (*path != '\0' && *path != '/') ub_add(&b, "/", 1);
        i = 1;
        for (p = mark = path; *p; p++) {
            const char *close, *id;
            size_t idn;
            if (*p != '{') continue;
            ub_add(&b, mark, (size_t)(p - mark));
            close = strchr(p, '}');
            if (close == NULL) luaL_error(L, "cohort.core: unclosed '{' in path template");
            if (!lua_istable(L, ids)) luaL_error(L, "cohort.core: the path template needs ids");
            lua_rawgeti(L, ids, (lua_Integer)i);
            if (lua_type(L, -1) == LUA_TNUMBER) lua_tostring(L, -1);
            id = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &idn) : NULL;
            if (id == NULL || idn == 0)
                luaL_error(L, "cohort.core: id %d of the path must be a non-empty string",
                           (int)i);
            ub_add_encoded(&b, id, idn, 0);
            lua_pop(L, 1);
            i++;
            p = close;
            mark = close + 1;
        }
        ub_add(&b, mark, strlen(mark));
        for (i = 0; i < nkeys; i++) {
            lua_getfield(L, query, keys[i]);
            if (lua_istable(L, -1)) {
                lua_Integer j, len = (lua_Integer)lua_rawlen(L, -1);
                for (j = 1; j <= len; j++) {
                    lua_rawgeti(L, -1, j);
                    url_add_pair(L, &b, &nq, keys[i], -1);
                    lua_pop(L, 1);
                }
            } else if (!lua_isnil(L, -1)) {
                url_add_pair(L, &b, &nq, keys[i], -1);
            }
            lua_pop(L, 1);
        }
    }
    if (secret_query) {
        ub_add(&b, nq ? "&apiKey=" : "?apiKey=", 8);
        ub_add_encoded(&b, secret_query, strlen(secret_query), 1);
    }
    lua_pushlstring(L, b.p, b.n);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
}

/* A malloc'd copy of s[0..n) percent-encoded as a query value is (see ub_add_encoded), or NULL
 * when out of memory. The core keeps this form of the secret to redact it where it was sent
 * encoded. */
char *url_encode_dup(const char *s, size_t n)
{
    char *d = malloc(3 * n + 1), *o = d;
    size_t i;
    if (d == NULL) return NULL;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '~' || c == '.') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = url_hex[c >> 4];
            *o++ = url_hex[c & 15];
        }
    }
    *o = '\0';
    return d;
}

/* Same scheme, host and port: the prefix up to the first '/' after "://". */
int url_same_origin(const char *a, const char *b)
{
    const char *sa = strstr(a, "://"), *sb = strstr(b, "://");
    size_t na, nb;
    if (sa == NULL || sb == NULL) return 0;
    na = (size_t)(sa - a) + 3 + strcspn(sa + 3, "/?#");
    nb = (size_t)(sb - b) + 3 + strcspn(sb + 3, "/?#");
    return na == nb && strncmp(a, b, na) == 0;
}

/* core.build_url(req) -> url: the URL a request would go to, without credentials. */
int url_lbuild(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    url_build(L, 1, NULL);
    return 1;
}

/* core.is_id(s) -> boolean: a well-formed id — a string of 1 to 128 bytes with no control
 * character and no space (the check every id argument passes before it goes into a URL; done
 * here because a Lua pattern over each byte costs more than the rest of building a request). */
int url_lis_id(lua_State *L)
{
    size_t n, i;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &n) : NULL;
    int ok = s != NULL && n >= 1 && n <= 128;
    for (i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 32 || c == 127) ok = 0;
    }
    lua_pushboolean(L, ok);
    return 1;
}
