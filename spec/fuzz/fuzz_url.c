/* libFuzzer target: the URL and query builder (url_build) on any template, ids and query.
 * Input: template \0 id1 \0 id2 \0 key \0 value \0 ... (misuse raises: caught by lua_pcall). */
#include <stdint.h>
#include <string.h>
#include "../../csrc/core.h"

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_build(lua_State *S)
{
    url_build(S, 1, lua_toboolean(S, 2) ? "k3y&=?" : NULL);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    int part = 0, ids, query, n = 1;
    if (L == NULL) {
        L = luaL_newstate();
        luaL_openlibs(L);
    }
    lua_settop(L, 0);
    lua_pushcfunction(L, fuzz_build);
    lua_newtable(L); /* req */
    lua_pushliteral(L, "https://api.example.org/base/");
    lua_setfield(L, -2, "base");
    lua_newtable(L);
    ids = lua_gettop(L);
    lua_newtable(L);
    query = lua_gettop(L);
    while (p < end) {
        const char *z = memchr(p, 0, (size_t)(end - p));
        size_t len = z ? (size_t)(z - p) : (size_t)(end - p);
        if (part == 0) {
            lua_pushlstring(L, p, len);
            lua_setfield(L, 2, "path");
        } else if (part <= 3) {
            lua_pushlstring(L, p, len);
            lua_rawseti(L, ids, n++);
        } else if (part % 2 == 0) {
            lua_pushlstring(L, p, len); /* key; its value is the next part */
        } else {
            lua_pushlstring(L, p, len);
            lua_settable(L, query);
        }
        part++;
        p += len + 1;
    }
    if (part > 4 && part % 2 == 1) lua_pop(L, 1); /* a key without a value */
    lua_setfield(L, 2, "query");
    lua_setfield(L, 2, "ids");
    lua_pushboolean(L, size > 0 && (data[0] & 1));
    lua_pcall(L, 2, 1, 0);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
