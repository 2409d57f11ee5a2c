/* libFuzzer target: opening a store (core.store_open, csrc/core_store.c) on a file holding any
 * bytes. Input: the file's contents. tools/fuzz.sh seeds the corpus with small real stores
 * (512-byte pages) made by the sqlite3 tool, so mutations reach past the header into SQLite's
 * pages. Whatever the bytes, the open returns a store or nil and an error table whose code is
 * one of the documented ones (otherwise the target aborts); an opened store is read and closed,
 * and every descriptor and statement is released (ASan's leak check). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../csrc/core.h"

static lua_State *L;
static char path[64], wal[80], shm[80];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const codes[] = {
    "EMPTY", "NOT_SQLITE", "OLD_JOURNAL", "FOREIGN", "TRUNCATED", "CORRUPT", "IO",
    "SQLITE_ERROR", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_NOMEM", "SQLITE_READONLY",
    "SQLITE_BUSY", "SQLITE_FULL", "SQLITE_SCHEMA", "SQLITE_RANGE", "SQLITE_TOOBIG",
    "SQLITE_MISMATCH", NULL,
};

static int run(lua_State *S)
{
    int i;
    const char *const reads[] = {
        "SELECT count(*) AS n FROM sqlite_master",
        "SELECT key, value FROM cohort_meta",
        "SELECT owner, version FROM cohort_owners",
        "PRAGMA user_version",
        NULL,
    };
    lua_pushcfunction(S, store_lopen_entry);
    lua_pushstring(S, path);
    lua_newtable(S);
    lua_pushinteger(S, 0x636F686F);
    lua_setfield(S, -2, "application_id");
    lua_pushliteral(S, "quick");
    lua_setfield(S, -2, "check");
    lua_pushinteger(S, 0);
    lua_setfield(S, -2, "busy_timeout");
    lua_call(S, 2, 2);
    if (lua_isnil(S, -2)) {
        const char *code;
        lua_getfield(S, -1, "code");
        code = lua_tostring(S, -1);
        for (i = 0; code && codes[i]; i++)
            if (strcmp(code, codes[i]) == 0) return 0;
        fprintf(stderr, "fuzz_store: unexpected error code %s\n", code ? code : "(none)");
        abort();
    }
    lua_pop(S, 1);
    for (i = 0; reads[i]; i++) {
        lua_getfield(S, -1, "rows");
        lua_pushvalue(S, -2);
        lua_pushstring(S, reads[i]);
        lua_call(S, 2, 2);
        lua_pop(S, 2);
    }
    lua_getfield(S, -1, "close");
    lua_pushvalue(S, -2);
    lua_call(S, 1, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f;
    if (L == NULL) {
        L = luaL_newstate();
        luaL_openlibs(L);
        snprintf(path, sizeof path, "/tmp/cohort-fuzz-store-%ld.sqlite", (long)getpid());
        snprintf(wal, sizeof wal, "%s-wal", path);
        snprintf(shm, sizeof shm, "%s-shm", path);
    }
    unlink(wal);
    unlink(shm);
    f = fopen(path, "wb");
    if (f == NULL) return 0;
    if (size) fwrite(data, 1, size, f);
    fclose(f);
    lua_settop(L, 0);
    lua_pushcfunction(L, run);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        fprintf(stderr, "fuzz_store: raised: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    unlink(path);
    return 0;
}
