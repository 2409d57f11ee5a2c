/* libFuzzer target: the error decoder (errors_push_http) on any body, status and platform. */
#include <stdint.h>
#include <string.h>
#include "../../csrc/core.h"

static lua_State *L;
static int decode_ref;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int platform, top;
    long status;
    if (L == NULL) {
        L = luaL_newstate();
        luaL_openlibs(L);
        lua_pushcfunction(L, json_ldecode); /* the decoder the core passes in production */
        decode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_settop(L, 0);
    }
    if (size < 2) return 0;
    platform = data[0] % 3;
    status = 400 + data[1] % 200;
    top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, decode_ref);
    errors_push_http(L, -1, platform, status, (const char *)data + 2, size - 2,
                     (data[0] & 4) ? "text/html" : "application/json", (data[0] & 8) ? "SECRET" : NULL);
    lua_settop(L, top);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
