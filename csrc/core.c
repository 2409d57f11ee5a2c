/* core.c — luaopen_cohort_core, the only exported symbol of cohort.core.
 *
 * The module holds a private lua-cjson instance (cjson.new()), so cohort never changes the
 * settings of the cjson a user has loaded; its decode function is an upvalue of every function
 * that turns error bodies into error tables. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "core.h"

static int core_curl_ready = 0;

/* Two fixes to what lua-cjson gives, done in one pass, in place:
 * - Debian's lua-cjson 2.1.0 decodes every number as a float: integral values (within 2^53) get
 *   back their integer subtype, so `reward` is 150 and prints as 150, not 150.0;
 * - a JSON null in an object (cjson.null, a light userdata) becomes an absent field, so
 *   `if sub.completed_at then` works as a Lua programmer expects. Nulls inside arrays stay
 *   cjson.null, so arrays keep their length. */
void json_integerize(lua_State *L, int idx, int depth)
{
    idx = lua_absindex(L, idx);
    if (depth > 64) return;
    luaL_checkstack(L, 4, NULL);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int t = lua_type(L, -1);
#if LUA_VERSION_NUM >= 503
        if (t == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number v = lua_tonumber(L, -1);
            if (v == (lua_Number)(long long)v && v > -9007199254740992.0 &&
                v < 9007199254740992.0) {
                lua_pushvalue(L, -2);
                lua_pushinteger(L, (lua_Integer)v);
                lua_rawset(L, idx);
            }
        } else
#endif
        if (t == LUA_TTABLE) {
            json_integerize(L, -1, depth + 1);
        } else if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, -1) == NULL &&
                   lua_type(L, -2) == LUA_TSTRING) {
            lua_pushvalue(L, -2);
            lua_pushnil(L);
            lua_rawset(L, idx); /* clearing a field during traversal is allowed */
        }
        lua_pop(L, 1);
    }
}

/* Seconds on a monotonic clock. */
double core_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* core.monotime() -> seconds (float) on a monotonic clock, for time-outs and frame loops */
static int core_monotime(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)core_now());
    return 1;
}

/* core.sleep(seconds): block the calling thread (used outside tasks only) */
static int core_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    struct timespec ts;
    if (!(s > 0)) return 0;
    if (s > 86400) s = 86400;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0) {}
    return 0;
}

/* core.fsync(file): flush a Lua file handle and sync it to disk (the journal's durability) */
static int core_fsync(lua_State *L)
{
#if LUA_VERSION_NUM >= 502
    luaL_Stream *st = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
    FILE *f = st->closef ? st->f : NULL;
#else
    FILE **pf = (FILE **)luaL_checkudata(L, 1, LUA_FILEHANDLE);
    FILE *f = *pf;
#endif
    if (f == NULL) return luaL_error(L, "cohort.core: fsync of a closed file");
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, "fsync failed");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.decode(text) -> value: the private cjson decode, with integers restored.
 * Raises on malformed JSON, as cjson does. */
static int core_decode(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, 1);
    if (lua_istable(L, -1)) json_integerize(L, -1, 0);
    return 1;
}

__attribute__((visibility("default"))) int luaopen_cohort_core(lua_State *L);

int luaopen_cohort_core(lua_State *L)
{
    int decode;
    if (!core_curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return luaL_error(L, "cohort.core: curl_global_init failed");
        core_curl_ready = 1;
    }
    /* private cjson instance: cjson.new() */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "decode");
    decode = lua_gettop(L);

    lua_newtable(L);
    lua_pushliteral(L, COHORT_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    lua_pushvalue(L, decode);
    session_open(L);
    lua_setfield(L, -3, "session");
    lua_pop(L, 1);
    lua_pushvalue(L, decode);
    lua_pushcclosure(L, errors_ldecode, 1);
    lua_setfield(L, -2, "decode_error");
    lua_pushvalue(L, decode);
    lua_pushcclosure(L, core_decode, 1);
    lua_setfield(L, -2, "decode");
    lua_getfield(L, decode - 1, "encode");
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, hmac_lsha256);
    lua_setfield(L, -2, "hmac_sha256");
    lua_pushcfunction(L, hmac_lbase64);
    lua_setfield(L, -2, "base64");
    lua_pushcfunction(L, hmac_lequal);
    lua_setfield(L, -2, "equal");
    lua_pushcfunction(L, core_fsync);
    lua_setfield(L, -2, "fsync");
    lua_pushcfunction(L, core_sleep);
    lua_setfield(L, -2, "sleep");
    lua_pushcfunction(L, core_monotime);
    lua_setfield(L, -2, "monotime");
    lua_pushcfunction(L, errors_lretry_after);
    lua_setfield(L, -2, "retry_after");
    lua_pushcfunction(L, url_lbuild);
    lua_setfield(L, -2, "build_url");
    return 1;
}
