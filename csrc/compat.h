/* compat.h — every Lua version shim of cohort's C code lives here.
 * Lua 5.4 is the primary target; 5.3, 5.2, 5.1 and LuaJIT 2.1 build through these macros. */
#ifndef COHORT_COMPAT_H
#define COHORT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#if LUA_VERSION_NUM < 502
#  ifndef luaL_newlib
#    define luaL_newlibtable(L, l) lua_createtable(L, 0, (int)(sizeof(l) / sizeof((l)[0]) - 1))
#    define luaL_newlib(L, l) (luaL_newlibtable(L, l), luaL_setfuncs(L, l, 0))
#  endif
#  define lua_rawlen(L, i) lua_objlen(L, i)
#  define COHORT_NEED_SETFUNCS 1
#  define lua_absindex(L, i) (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)
#endif

#if LUA_VERSION_NUM < 503
#  define lua_isinteger(L, i) 0
#endif

#if LUA_VERSION_NUM < 504
#  define COHORT_NEWUDATA(L, sz) lua_newuserdata(L, sz)
#else
#  define COHORT_NEWUDATA(L, sz) lua_newuserdatauv(L, sz, 0)
#endif

#ifdef COHORT_NEED_SETFUNCS
static void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#endif

#endif
