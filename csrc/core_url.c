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

void url_push_encoded(luaL_Buffer *b, const char *s, size_t n, int keep_dot)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '~' || (keep_dot && c == '.')) {
            luaL_addchar(b, (char)c);
        } else {
            luaL_addchar(b, '%');
            luaL_addchar(b, url_hex[c >> 4]);
            luaL_addchar(b, url_hex[c & 15]);
        }
    }
}

/* Pushes the encoded form of s as a new string. Nothing else touches the stack meanwhile. */
static void url_push_piece(lua_State *L, const char *s, size_t n, int keep_dot)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    url_push_encoded(&b, s, n, keep_dot);
    luaL_pushresult(&b);
}

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

/* The URL is assembled as an array of pieces in a table at `acc`, joined at the end. */
static void url_put(lua_State *L, int acc, int *k)
{
    lua_rawseti(L, acc, ++*k);
}

static void url_add_pair(lua_State *L, int acc, int *k, int *nq, const char *key, int vidx)
{
    size_t vn;
    const char *v;
    vidx = lua_absindex(L, vidx);
    if (!url_scalar(L, vidx))
        luaL_error(L, "cohort.core: query value for '%s' must be a string, number or boolean",
                   key);
    v = lua_tolstring(L, -1, &vn);
    lua_pushstring(L, (*nq)++ == 0 ? "?" : "&");
    url_put(L, acc, k);
    url_push_piece(L, key, strlen(key), 1);
    url_put(L, acc, k);
    lua_pushliteral(L, "=");
    url_put(L, acc, k);
    url_push_piece(L, v, vn, 1);
    url_put(L, acc, k);
    lua_pop(L, 1); /* the scalar */
}

/* req at index `req`: {base=, path=, ids=, query=} or {base=, url=}. Pushes the URL.
 * Raises on misuse; allocates nothing that a raise could leak. */
void url_build(lua_State *L, int req, const char *secret_query)
{
    size_t n, i, nkeys = 0;
    const char *base, *path, *p, *mark;
    int ids, query, top, acc, k = 0, nq = 0;
    const char **keys = NULL;
    luaL_Buffer b;

    req = lua_absindex(L, req);
    top = lua_gettop(L);
    lua_newtable(L);
    acc = lua_gettop(L);
    lua_getfield(L, req, "base");
    base = lua_tolstring(L, -1, &n);
    if (base == NULL) luaL_error(L, "cohort.core: request.base must be a string");
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        luaL_error(L, "cohort.core: request.base must start with http:// or https://");
    while (n > 0 && base[n - 1] == '/') n--;

    lua_getfield(L, req, "url");
    if (!lua_isnil(L, -1)) {
        const char *u = lua_tostring(L, -1);
        if (u == NULL || !url_same_origin(base, u))
            luaL_error(L, "cohort.core: absolute url is not on the origin of base");
        lua_pushvalue(L, -1);
        url_put(L, acc, &k);
        nq = strchr(u, '?') != NULL;
    } else {
        lua_pushlstring(L, base, n);
        url_put(L, acc, &k);
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
        if (*path != '\0' && *path != '/') {
            lua_pushliteral(L, "/");
            url_put(L, acc, &k);
        }
        i = 1;
        for (p = mark = path; *p; p++) {
            const char *close, *id;
            size_t idn;
            if (*p != '{') continue;
            lua_pushlstring(L, mark, (size_t)(p - mark));
            url_put(L, acc, &k);
            close = strchr(p, '}');
            if (close == NULL) luaL_error(L, "cohort.core: unclosed '{' in path template");
            if (!lua_istable(L, ids)) luaL_error(L, "cohort.core: the path template needs ids");
            lua_rawgeti(L, ids, (lua_Integer)i);
            if (lua_type(L, -1) == LUA_TNUMBER) lua_tostring(L, -1);
            id = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &idn) : NULL;
            if (id == NULL || idn == 0)
                luaL_error(L, "cohort.core: id %d of the path must be a non-empty string",
                           (int)i);
            url_push_piece(L, id, idn, 0);
            url_put(L, acc, &k);
            lua_pop(L, 1);
            i++;
            p = close;
            mark = close + 1;
        }
        lua_pushstring(L, mark);
        url_put(L, acc, &k);
        for (i = 0; i < nkeys; i++) {
            lua_getfield(L, query, keys[i]);
            if (lua_istable(L, -1)) {
                lua_Integer j, len = (lua_Integer)lua_rawlen(L, -1);
                for (j = 1; j <= len; j++) {
                    lua_rawgeti(L, -1, j);
                    url_add_pair(L, acc, &k, &nq, keys[i], -1);
                    lua_pop(L, 1);
                }
            } else if (!lua_isnil(L, -1)) {
                url_add_pair(L, acc, &k, &nq, keys[i], -1);
            }
            lua_pop(L, 1);
        }
    }
    if (secret_query) {
        lua_pushstring(L, nq ? "&apiKey=" : "?apiKey=");
        url_put(L, acc, &k);
        url_push_piece(L, secret_query, strlen(secret_query), 1);
        url_put(L, acc, &k);
    }
    lua_settop(L, acc);
    luaL_buffinit(L, &b);
    for (i = 1; i <= (size_t)k; i++) {
        lua_rawgeti(L, acc, (lua_Integer)i);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
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
