/* libFuzzer target: the JSON decoder (json_ldecode) on any bytes, under lua_pcall.
 * When the decoder accepts a text, lua-cjson (more lenient: it takes everything this decoder
 * takes) must accept it too and, after the old integer/null pass written in Lua below, give
 * the same value; otherwise the target aborts. Integer tokens beyond 2^53 are the one known
 * difference (cjson rounds them to floats), so there the integer only has to round to the
 * float. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../csrc/core.h"

static lua_State *L;
static int check_ref;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char check_src[] =
    "local cjson = require('cjson').new()\n"
    "local null = cjson.null\n"
    "local function ref(v)\n"
    "  if math.type(v) == 'float' and v == math.floor(v) and v > -2^53 and v < 2^53 then\n"
    "    return math.tointeger(v)\n"
    "  elseif type(v) == 'table' then\n"
    "    local out = {}\n"
    "    for k, x in pairs(v) do\n"
    "      if not (type(k) == 'string' and x == null) then out[k] = ref(x) end\n"
    "    end\n"
    "    return out\n"
    "  end\n"
    "  return v\n"
    "end\n"
    "local function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then\n"
    "    if math.type(a) == 'integer' and math.type(b) == 'float' then\n"
    "      return (b >= 2^53 or b <= -2^53) and a + 0.0 == b\n"
    "    end\n"
    "    return math.type(a) == math.type(b) and (a == b or (a ~= a and b ~= b))\n"
    "  end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  for k, x in pairs(a) do if not same(x, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "return function(text, v)\n"
    "  local ok, r = pcall(cjson.decode, text)\n"
    "  if not ok then return false end\n"
    "  return same(v, ref(r))\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int top;
    if (L == NULL) {
        L = luaL_newstate();
        luaL_openlibs(L);
        if (luaL_loadbuffer(L, check_src, sizeof check_src - 1, "=check") != LUA_OK ||
            lua_pcall(L, 0, 1, 0) != LUA_OK)
            abort();
        check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    top = lua_gettop(L);
    lua_pushcfunction(L, json_ldecode);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        int v = lua_gettop(L);
        lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
        lua_pushlstring(L, (const char *)data, size);
        lua_pushvalue(L, v);
        if (lua_pcall(L, 2, 1, 0) != LUA_OK || !lua_toboolean(L, -1)) abort();
    } else if (lua_type(L, -1) != LUA_TSTRING) {
        abort(); /* every decode error is a message */
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
