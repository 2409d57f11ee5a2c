/* raw_cjson.h — the "cjson" mode of raw_easy and raw_multi: every body turned into a Lua table
 * by lua-cjson in an embedded Lua state, then dropped (the like-for-like rows of bench/driver.lua).
 * Built only with -DWITH_LUA; without it the mode is refused. */
#ifndef RAW_CJSON_H
#define RAW_CJSON_H
#include <stdio.h>
#include <stdlib.h>
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
