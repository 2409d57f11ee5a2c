/* core_hmac.c — what webhook signatures need: HMAC-SHA256 (OpenSSL's libcrypto), base64, and a
 * comparison whose time does not depend on where two strings differ. */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "core.h"

/* core.hmac_sha256(key, message) -> 32 raw bytes */
int hmac_lsha256(lua_State *L)
{
    size_t kn, mn;
    const char *key = luaL_checklstring(L, 1, &kn);
    const char *msg = luaL_checklstring(L, 2, &mn);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int outn = 0;
    if (HMAC(EVP_sha256(), key, (int)kn, (const unsigned char *)msg, mn, out, &outn) == NULL)
        return luaL_error(L, "cohort.core: HMAC-SHA256 failed");
    lua_pushlstring(L, (const char *)out, outn);
    return 1;
}

/* core.base64(bytes) -> standard base64 text with padding */
int hmac_lbase64(lua_State *L)
{
    size_t n;
    const unsigned char *in = (const unsigned char *)luaL_checklstring(L, 1, &n);
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    luaL_Buffer b;
    size_t i;
    luaL_buffinit(L, &b);
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        luaL_addchar(&b, tbl[v >> 18]);
        luaL_addchar(&b, tbl[(v >> 12) & 63]);
        luaL_addchar(&b, tbl[(v >> 6) & 63]);
        luaL_addchar(&b, tbl[v & 63]);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        luaL_addchar(&b, tbl[v >> 18]);
        luaL_addchar(&b, tbl[(v >> 12) & 63]);
        luaL_addstring(&b, "==");
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        luaL_addchar(&b, tbl[v >> 18]);
        luaL_addchar(&b, tbl[(v >> 12) & 63]);
        luaL_addchar(&b, tbl[(v >> 6) & 63]);
        luaL_addchar(&b, '=');
    }
    luaL_pushresult(&b);
    return 1;
}

/* core.equal(a, b) -> boolean, in time that depends on the lengths only */
int hmac_lequal(lua_State *L)
{
    size_t an, bn, i;
    const unsigned char *a = (const unsigned char *)luaL_checklstring(L, 1, &an);
    const unsigned char *b = (const unsigned char *)luaL_checklstring(L, 2, &bn);
    unsigned char diff = an == bn ? 0 : 1;
    size_t n = an < bn ? an : bn;
    for (i = 0; i < n; i++) diff |= (unsigned char)(a[i] ^ b[i]);
    lua_pushboolean(L, diff == 0);
    return 1;
}
