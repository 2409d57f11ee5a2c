/* libFuzzer target: the error decoder (errors_push_http) on any body, status and platform, and
 * the other makers of error tables that see server bytes: errors_push_not_json (a 2xx that is
 * not JSON), errors_push_redirect (a 3xx's Location) and the redaction they all use.
 *
 * Byte 0 chooses: bits 0-1 the platform, bit 2 the content type, bit 3 a secret (which also
 * appears in the seeds' bodies), bits 4-5 the maker; byte 1 the status. None of them may raise
 * (a raise here has no lua_pcall around it and aborts), and no string of the error table may
 * still hold the secret afterwards, at any depth. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../csrc/core.h"

static lua_State *L;
static int decode_ref;

#define FUZZ_SECRET "SECRET-12345"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts if any string reachable from the value at idx (keys too) holds the secret. */
static void check_clean(int idx, int depth)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        size_t i, sl = strlen(FUZZ_SECRET);
        for (i = 0; i + sl <= n; i++)
            if (memcmp(s + i, FUZZ_SECRET, sl) == 0) abort();
        return;
    }
    if (lua_type(L, idx) != LUA_TTABLE || depth > 5000 || !lua_checkstack(L, 6)) return;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        check_clean(-2, depth + 1);
        check_clean(-1, depth + 1);
        lua_pop(L, 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int platform, top, secret, mode;
    long status;
    secrets sec;
    const char *body;
    size_t n;
    if (L == NULL) {
        L = luaL_newstate();
        luaL_openlibs(L);
        lua_pushcfunction(L, json_ldecode); /* the decoder the core passes in production */
        decode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_settop(L, 0);
    }
    if (size < 2) return 0;
    platform = data[0] % 3;
    secret = (data[0] & 8) != 0;
    mode = (data[0] >> 4) & 3;
    memset(&sec, 0, sizeof sec);
    if (secret) {
        sec.v[0] = FUZZ_SECRET;
        sec.n[0] = strlen(FUZZ_SECRET);
        sec.v[1] = "SECRET%2D12345"; /* not its real encoded form: a second needle all the same */
        sec.n[1] = strlen(sec.v[1]);
    }
    body = (const char *)data + 2;
    n = size - 2;
    top = lua_gettop(L);
    if (mode == 0 || mode == 3) {
        status = 400 + data[1] % 200;
        lua_rawgeti(L, LUA_REGISTRYINDEX, decode_ref);
        errors_push_http(L, -1, platform, status, body, n,
                         (data[0] & 4) ? "text/html" : "application/json", secret ? &sec : NULL);
    } else if (mode == 1) {
        status = 200 + data[1] % 100;
        errors_push_not_json(L, status, body, n, (data[0] & 4) ? "text/html" : NULL,
                             "Expected value but found invalid token at character 1",
                             secret ? &sec : NULL);
    } else {
        /* a Location is a C string: up to the first NUL */
        char *loc = malloc(n + 1);
        if (loc == NULL) return 0;
        memcpy(loc, body, n);
        loc[n] = '\0';
        errors_push_redirect(L, 300 + data[1] % 100, (data[1] & 128) ? NULL : loc,
                             secret ? &sec : NULL);
        free(loc);
    }
    if (secret) check_clean(-1, 0);
    lua_settop(L, top);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
