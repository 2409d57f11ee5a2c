/* compat.h — every Lua version shim of cohort's C code lives here.
 *
 * Lua 5.4 is the primary target; 5.3, 5.1 and LuaJIT 2.1 (what LÖVE and Defold embed) build
 * through these definitions, so the .c files are written against the 5.4 API and never test
 * LUA_VERSION_NUM themselves (exceptions: luaL_Stream in core.c, integer subtypes in core_json.c).
 *
 *   API used by cohort         5.4   5.3   5.1 / LuaJIT 2.1
 *   lua_absindex               yes   yes   macro below
 *   lua_rawlen                 yes   yes   lua_objlen
 *   luaL_newlib, luaL_setfuncs yes   yes   LuaJIT has them; plain 5.1: below
 *   luaL_setmetatable          yes   yes   LuaJIT has it; plain 5.1: below
 *   lua_stringtonumber         yes   yes   below (lua_tonumber on a pushed string)
 *   lua_isinteger              yes   yes   always 0: 5.1 has no integer subtype
 *   COHORT_ISINT (argument     lua_isinteger  number with an integral value
 *     checks: "an integer")
 *   COHORT_NEWUDATA            lua_newuserdatauv(L, sz, 0) on 5.4, lua_newuserdata before
 *
 * luaL_Buffer: on every version the buffer may keep values on the stack between
 * luaL_buffinit and luaL_pushresult, so code that builds a buffer only pushes a value right
 * before luaL_addvalue and otherwise leaves the stack as it found it (core_errors.c,
 * core_hmac.c follow this rule). */
#ifndef COHORT_COMPAT_H
#define COHORT_COMPAT_H

#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

/* LuaJIT 2.1 reports 501 but ships some 5.2 functions (luaL_setfuncs, luaL_setmetatable,
 * luaL_newlib as a macro); plain Lua 5.1 has none of them. */
#if LUA_VERSION_NUM < 502 && !defined(luaL_newlib)
#  define COHORT_PLAIN_51 1
#endif

#if LUA_VERSION_NUM < 502
#  define lua_rawlen(L, i) lua_objlen(L, i)
#  define lua_absindex(L, i) (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)
#  ifndef LUA_OK
#    define LUA_OK 0
#  endif
#endif

#ifdef COHORT_PLAIN_51
#  define luaL_newlibtable(L, l) lua_createtable(L, 0, (int)(sizeof(l) / sizeof((l)[0]) - 1))
#  define luaL_newlib(L, l) (luaL_newlibtable(L, l), luaL_setfuncs(L, l, 0))

static inline void cohort_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
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
#  define luaL_setfuncs(L, l, nup) cohort_setfuncs(L, l, nup)

static inline void cohort_setmetatable(lua_State *L, const char *tname)
{
    luaL_getmetatable(L, tname);
    lua_setmetatable(L, -2);
}
#  define luaL_setmetatable(L, tname) cohort_setmetatable(L, tname)
#endif

#if LUA_VERSION_NUM < 503
/* Pushes the number that s spells and returns strlen(s) + 1, or pushes nothing and returns 0. */
static inline size_t cohort_stringtonumber(lua_State *L, const char *s)
{
    lua_pushstring(L, s);
    if (lua_type(L, -1) == LUA_TSTRING && lua_isnumber(L, -1)) {
        lua_Number v = lua_tonumber(L, -1);
        lua_pop(L, 1);
        lua_pushnumber(L, v);
        return strlen(s) + 1;
    }
    lua_pop(L, 1);
    return 0;
}
#  define lua_stringtonumber(L, s) cohort_stringtonumber(L, s)
/* No integer subtype before 5.3: callers fall back to their float path. */
#  define lua_isinteger(L, i) ((void)(L), (void)(i), 0)

static inline int cohort_isint(lua_State *L, int i)
{
    lua_Number v;
    if (lua_type(L, i) != LUA_TNUMBER) return 0;
    v = lua_tonumber(L, i);
    return v == (lua_Number)(long long)v && v > -9007199254740992.0 && v < 9007199254740992.0;
}
#  define COHORT_ISINT(L, i) cohort_isint(L, i)
#else
#  define COHORT_ISINT(L, i) lua_isinteger(L, i)
#endif

#if LUA_VERSION_NUM < 504
#  define COHORT_NEWUDATA(L, sz) lua_newuserdata(L, sz)
#else
#  define COHORT_NEWUDATA(L, sz) lua_newuserdatauv(L, sz, 0)
#endif

#endif
