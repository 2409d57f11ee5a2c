/* core.c — luaopen_cohort_core, the only exported symbol of cohort.core.
 *
 * JSON: core.decode is cohort's own one-pass decoder (json_ldecode, core_json.c), which builds
 * integers, drops null fields and keeps nulls in arrays as cjson.null directly; the same C
 * function is the decode upvalue of every function that turns error bodies into error tables
 * (session_open, errors_ldecode), called with the text as its only argument. core.encode is
 * the encode of a private lua-cjson instance (cjson.new()), so cohort never changes the
 * settings of the cjson a user has loaded. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "core.h"

static int core_curl_ready = 0;

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

static const luaL_Reg core_funcs[] = {
    {"hmac_sha256", hmac_lsha256},
    {"base64", hmac_lbase64},
    {"equal", hmac_lequal},
    {"fsync", core_fsync},
    {"sleep", core_sleep},
    {"monotime", core_monotime},
    {"retry_after", errors_lretry_after},
    {"build_url", url_lbuild},
    {"is_id", url_lis_id},
    {"store_open", store_lopen_entry},
    {NULL, NULL},
};

__attribute__((visibility("default"))) int luaopen_cohort_core(lua_State *L);

int luaopen_cohort_core(lua_State *L)
{
    int cjson;
    if (!core_curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return luaL_error(L, "cohort.core: curl_global_init failed");
        core_curl_ready = 1;
    }
    /* private cjson instance, cjson.new(): its encode is core.encode */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    cjson = lua_gettop(L);

    lua_newtable(L);
    lua_pushliteral(L, COHORT_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    lua_pushcfunction(L, json_ldecode);
    session_open(L);
    lua_setfield(L, -3, "session");
    lua_pop(L, 1);
    lua_pushcfunction(L, json_ldecode);
    lua_pushcclosure(L, errors_ldecode, 1);
    lua_setfield(L, -2, "decode_error");
    lua_pushcfunction(L, json_ldecode);
    lua_setfield(L, -2, "decode");
    lua_getfield(L, cjson, "encode");
    lua_setfield(L, -2, "encode");
    luaL_setfuncs(L, core_funcs, 0);
    return 1;
}
