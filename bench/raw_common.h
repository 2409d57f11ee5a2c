/* raw_common.h — what raw_easy.c and raw_multi.c share: the body buffer and its libcurl write
 * callback, the clock, the ids file, and the "cjson" mode (every body turned into a Lua table by
 * lua-cjson in an embedded Lua state, then dropped: the like-for-like rows of bench/driver.lua).
 * The cjson mode is built only with -DWITH_LUA; without it the mode is refused. */
#ifndef RAW_COMMON_H
#define RAW_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { char *data; size_t len, cap; } buf;

/* libcurl's write callback: appends to the buf given as CURLOPT_WRITEDATA. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The non-empty lines of path, as an array of *count strings. */
static char **read_ids(const char *path, int *count)
{
    FILE *f = fopen(path, "r");
    char line[128], **ids = NULL;
    int n = 0, cap = 0;
    if (!f) { perror(path); exit(2); }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line) continue;
        if (n == cap) { cap = cap ? cap * 2 : 1024; ids = realloc(ids, cap * sizeof *ids); }
        ids[n++] = strdup(line);
    }
    fclose(f);
    *count = n;
    return ids;
}

#ifdef WITH_LUA
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

/* A Lua state holding cjson.decode at index 1; exits when the program was asked for the
 * mode but lua-cjson cannot be loaded. */
static lua_State *raw_cjson_open(const char *prog)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) != 0) {
        fprintf(stderr, "%s: %s\n", prog, lua_tostring(L, -1));
        exit(2);
    }
    lua_getfield(L, -1, "decode");
    lua_replace(L, 1);
    lua_settop(L, 1);
    return L;
}

/* Decodes one body into a Lua table and drops it; 0 when it is not a JSON object or array. */
static int raw_cjson_decode(lua_State *L, const char *data, size_t len)
{
    int ok;
    lua_pushvalue(L, 1);
    lua_pushlstring(L, data, len);
    lua_call(L, 1, 1);
    ok = lua_istable(L, -1);
    lua_pop(L, 1);
    return ok;
}
#else
typedef void lua_State;
static lua_State *raw_cjson_open(const char *prog)
{
    fprintf(stderr, "%s: built without -DWITH_LUA\n", prog);
    exit(2);
}
static int raw_cjson_decode(lua_State *L, const char *data, size_t len)
{
    (void)L; (void)data; (void)len;
    return 1;
}
#endif
#endif
