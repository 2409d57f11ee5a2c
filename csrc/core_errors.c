/* core_errors.c — turning failed transfers and error bodies into error tables, and redaction.
 *
 * Error bodies are decoded with the module's JSON decoder (json_ldecode, core_json.c) under
 * lua_pcall, then mapped onto one set of fields: kind, status, code, title, message, detail,
 * fields. The envelopes understood:
 *   Prolific nested   {"error":{"status","error_code","title","detail",...}}
 *                     detail: string | array of strings | object field -> messages
 *   flat              {"message","detail"}
 *   QuestionPro       {"response":{"error":{"docs","name","httpStatusCode","id","message",
 *                     "resourceUrl"}}}      (id a string or a number)
 *   anything else     HTML or text: the <title> or the first words, and the content type. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "core.h"

int errors_platform(const char *name)
{
    if (name == NULL || strcmp(name, "prolific") == 0) return PLATFORM_PROLIFIC;
    if (strcmp(name, "questionpro") == 0) return PLATFORM_QUESTIONPRO;
    return PLATFORM_OTHER;
}

static const char *errors_platform_name(int platform)
{
    switch (platform) {
    case PLATFORM_PROLIFIC: return "prolific";
    case PLATFORM_QUESTIONPRO: return "questionpro";
    default: return "other";
    }
}

/* Pushes s with every occurrence of the secret, and the value of any apiKey= query parameter,
 * replaced by "***". */
/* Does s[0..n) contain needle? */
static int errors_contains(const char *s, size_t n, const char *needle, size_t nl)
{
    size_t i;
    if (nl == 0 || nl > n) return 0;
    for (i = 0; i + nl <= n; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, nl) == 0) return 1;
    return 0;
}

void errors_push_redacted(lua_State *L, const char *s, size_t n, const char *secret)
{
    size_t sl = secret ? strlen(secret) : 0, i = 0;
    luaL_Buffer b;
    /* the common case: nothing to redact, push the string as it is */
    if (!errors_contains(s, n, secret, sl) && !errors_contains(s, n, "apiKey=", 7) &&
        !errors_contains(s, n, "apikey=", 7)) {
        lua_pushlstring(L, s, n);
        return;
    }
    luaL_buffinit(L, &b);
    while (i < n) {
        if (sl > 0 && n - i >= sl && memcmp(s + i, secret, sl) == 0) {
            luaL_addstring(&b, SECRET_MASK);
            i += sl;
        } else if (n - i >= 7 && (strncmp(s + i, "apiKey=", 7) == 0 ||
                                  strncmp(s + i, "apikey=", 7) == 0)) {
            luaL_addlstring(&b, s + i, 7);
            luaL_addstring(&b, SECRET_MASK);
            i += 7;
            while (i < n && s[i] != '&' && s[i] != '#' && s[i] != '"' && s[i] != ' ' &&
                   s[i] != '\'' && s[i] != '<')
                i++;
        } else {
            luaL_addchar(&b, s[i]);
            i++;
        }
    }
    luaL_pushresult(&b);
}

/* Redacts every string value in the table at idx, to a small depth. */
static void errors_scrub(lua_State *L, int idx, const char *secret, int depth)
{
    idx = lua_absindex(L, idx);
    if (depth > 4) return;
    luaL_checkstack(L, 6, NULL);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            errors_push_redacted(L, s, n, secret);
            lua_pushvalue(L, -3);
            lua_insert(L, -2);
            lua_rawset(L, idx); /* replacing an existing key's value is safe in lua_next */
        } else if (lua_type(L, -1) == LUA_TTABLE) {
            errors_scrub(L, -1, secret, depth + 1);
        }
        lua_pop(L, 1);
    }
}

static const char *errors_reason(long status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status >= 500 ? "Server Error" : "Client Error";
    }
}

/* table at t: t[key] = value at top if it is a string (pops it either way) */
static void errors_set_string(lua_State *L, int t, const char *key)
{
    if (lua_type(L, -1) == LUA_TSTRING) lua_setfield(L, t, key);
    else lua_pop(L, 1);
}

/* Pushes one line of text made from a detail value (string, array of strings, or object of
 * field -> messages), and stores err.fields for the object form. */
static void errors_detail_message(lua_State *L, int err, int detail)
{
    luaL_Buffer b;
    int first = 1;
    detail = lua_absindex(L, detail);
    if (lua_type(L, detail) == LUA_TSTRING) {
        lua_pushvalue(L, detail);
        return;
    }
    if (!lua_istable(L, detail)) {
        lua_pushnil(L);
        return;
    }
    if (lua_rawlen(L, detail) > 0) { /* array of strings (or of anything printable) */
        lua_Integer i, len = (lua_Integer)lua_rawlen(L, detail);
        lua_newtable(L); /* parts */
        for (i = 1; i <= len; i++) {
            lua_rawgeti(L, detail, i);
            if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
                lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            } else {
                lua_pop(L, 1);
            }
        }
    } else {
        /* object: field -> messages; fields[field] = array of messages */
        lua_newtable(L); /* fields */
        lua_pushnil(L);
        while (lua_next(L, detail) != 0) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                lua_newtable(L);
                if (lua_type(L, -2) == LUA_TSTRING || lua_type(L, -2) == LUA_TNUMBER) {
                    lua_pushvalue(L, -2);
                    lua_rawseti(L, -2, 1);
                } else if (lua_istable(L, -2)) {
                    lua_Integer i, len = (lua_Integer)lua_rawlen(L, -2);
                    for (i = 1; i <= len; i++) {
                        lua_rawgeti(L, -2, i);
                        if (lua_type(L, -1) == LUA_TSTRING) lua_rawseti(L, -2, i);
                        else lua_pop(L, 1);
                    }
                }
                lua_pushvalue(L, -3);
                lua_insert(L, -2);
                lua_rawset(L, -5);
            }
            lua_pop(L, 1);
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, err, "fields");
        /* parts: "field: m1 m2" sorted by field name for a stable message */
        {
            int fields = lua_gettop(L), nf = 0, i, j;
            const char *names[64];
            lua_pushnil(L);
            while (lua_next(L, fields) != 0 && nf < 64) {
                names[nf++] = lua_tostring(L, -2);
                lua_pop(L, 1);
            }
            if (nf == 64) lua_pop(L, 2);
            for (i = 1; i < nf; i++) /* insertion sort: a handful of fields */
                for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
                    const char *tmp = names[j];
                    names[j] = names[j - 1];
                    names[j - 1] = tmp;
                }
            lua_newtable(L); /* parts */
            for (i = 0; i < nf; i++) {
                lua_Integer k, len;
                lua_getfield(L, fields, names[i]);
                len = (lua_Integer)lua_rawlen(L, -1);
                lua_pushfstring(L, "%s:", names[i]);
                for (k = 1; k <= len; k++) {
                    lua_pushliteral(L, " ");
                    lua_rawgeti(L, -3, k);
                    lua_concat(L, 3);
                }
                lua_rawseti(L, -3, i + 1);
                lua_pop(L, 1);
            }
            lua_remove(L, fields);
        }
    }
    /* join the parts with "; " */
    {
        int parts = lua_gettop(L);
        lua_Integer i, len = (lua_Integer)lua_rawlen(L, parts);
        if (len == 0) {
            lua_pop(L, 1);
            lua_pushnil(L);
            return;
        }
        luaL_buffinit(L, &b);
        for (i = 1; i <= len; i++) {
            if (!first) luaL_addstring(&b, "; ");
            first = 0;
            lua_rawgeti(L, parts, i);
            luaL_addvalue(&b);
        }
        luaL_pushresult(&b);
        lua_remove(L, parts);
    }
}

/* Pushes the text of <title>…</title>, or the first 120 visible characters of the body. */
static void errors_push_snippet(lua_State *L, const char *body, size_t n)
{
    const char *t = NULL, *e = NULL;
    size_t i, out = 0;
    luaL_Buffer b;
    int in_tag = 0, space = 0;
    for (i = 0; i + 7 <= n; i++)
        if (strncasecmp(body + i, "<title>", 7) == 0) {
            t = body + i + 7;
            break;
        }
    if (t != NULL) {
        for (e = t; e + 8 <= body + n; e++)
            if (strncasecmp(e, "</title>", 8) == 0) break;
        if (e + 8 > body + n) t = NULL;
    }
    if (t == NULL) {
        t = body;
        e = body + n;
    }
    luaL_buffinit(L, &b);
    for (; t < e && out < 120; t++) {
        unsigned char c = (unsigned char)*t;
        if (c == '<') in_tag = 1;
        else if (c == '>') in_tag = 0;
        else if (!in_tag) {
            if (isspace(c) || c < 32) {
                space = out > 0;
            } else {
                if (space) luaL_addchar(&b, ' '), out++;
                space = 0;
                luaL_addchar(&b, (char)c);
                out++;
            }
        }
    }
    luaL_pushresult(&b);
}

void errors_push_http(lua_State *L, int decode, int platform, long status, const char *body,
                      size_t n, const char *ctype, const char *secret)
{
    int err, doc = 0;
    decode = lua_absindex(L, decode);
    lua_createtable(L, 0, 12);
    err = lua_gettop(L);
    lua_pushliteral(L, "http");
    lua_setfield(L, err, "kind");
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, err, "status");
    lua_pushstring(L, errors_platform_name(platform));
    lua_setfield(L, err, "platform");

    if (n > 0 && body != NULL) {
        lua_pushvalue(L, decode);
        lua_pushlstring(L, body, n);
        if (lua_pcall(L, 1, 1, 0) == 0 && lua_istable(L, -1)) {
            doc = lua_gettop(L);
        } else {
            lua_pop(L, 1);
        }
    }
    if (doc) {
        lua_getfield(L, doc, "error");
        if (lua_istable(L, -1)) { /* Prolific nested */
            int e = lua_gettop(L);
            lua_getfield(L, e, "error_code");
            if (lua_type(L, -1) == LUA_TNUMBER || lua_type(L, -1) == LUA_TSTRING)
                lua_setfield(L, err, "code");
            else lua_pop(L, 1);
            lua_getfield(L, e, "title");
            errors_set_string(L, err, "title");
            lua_getfield(L, e, "additional_information");
            errors_set_string(L, err, "additional_information");
            lua_getfield(L, e, "detail");
            lua_pushvalue(L, -1);
            lua_setfield(L, err, "detail");
            errors_detail_message(L, err, -1);
            errors_set_string(L, err, "message");
            lua_pop(L, 2);
        } else {
            lua_pop(L, 1);
            lua_getfield(L, doc, "response");
            if (lua_istable(L, -1)) lua_getfield(L, -1, "error");
            else lua_pushnil(L);
            if (lua_istable(L, -1)) { /* QuestionPro */
                int e = lua_gettop(L);
                lua_getfield(L, e, "id");
                if (lua_type(L, -1) == LUA_TSTRING && lua_stringtonumber(L, lua_tostring(L, -1)))
                    lua_remove(L, -2);
                if (lua_type(L, -1) == LUA_TNUMBER || lua_type(L, -1) == LUA_TSTRING)
                    lua_setfield(L, err, "code");
                else lua_pop(L, 1);
                lua_getfield(L, e, "name");
                errors_set_string(L, err, "title");
                lua_getfield(L, e, "message");
                errors_set_string(L, err, "message");
                lua_getfield(L, e, "docs");
                errors_set_string(L, err, "docs");
                lua_getfield(L, e, "resourceUrl");
                errors_set_string(L, err, "resource_url");
                lua_pop(L, 2);
            } else {
                lua_pop(L, 2);
                /* flat {"message", "detail"} (also either alone): message then detail */
                lua_getfield(L, doc, "detail");
                lua_pushvalue(L, -1);
                lua_setfield(L, err, "detail");
                errors_detail_message(L, err, -1);
                lua_getfield(L, doc, "message");
                if (lua_type(L, -1) == LUA_TSTRING && lua_type(L, -2) == LUA_TSTRING &&
                    strcmp(lua_tostring(L, -1), lua_tostring(L, -2)) != 0) {
                    lua_pushliteral(L, ": ");
                    lua_pushvalue(L, -3);
                    lua_concat(L, 3);
                } else if (lua_type(L, -1) != LUA_TSTRING) {
                    lua_pop(L, 1);
                    lua_pushvalue(L, -1);
                }
                errors_set_string(L, err, "message");
                lua_getfield(L, doc, "title");
                errors_set_string(L, err, "title");
            }
        }
        lua_settop(L, err);
    } else if (n > 0) {
        /* not JSON: an HTML error page from a proxy, or text */
        lua_pushfstring(L, "the server answered %s instead of JSON: ",
                        ctype && *ctype ? ctype : "a body that is not JSON");
        errors_push_snippet(L, body, n);
        lua_concat(L, 2);
        lua_setfield(L, err, "message");
        lua_pushliteral(L, "decode");
        lua_setfield(L, err, "body_kind");
    }
    lua_getfield(L, err, "title");
    if (lua_isnil(L, -1)) {
        lua_pushstring(L, errors_reason(status));
        lua_setfield(L, err, "title");
    }
    lua_pop(L, 1);
    lua_getfield(L, err, "message");
    if (lua_isnil(L, -1)) {
        lua_getfield(L, err, "title");
        lua_setfield(L, err, "message");
    }
    lua_pop(L, 1);
    errors_scrub(L, err, secret, 0);
}

static const struct {
    CURLcode code;
    const char *name;
} errors_curl_names[] = {
    {CURLE_UNSUPPORTED_PROTOCOL, "UNSUPPORTED_PROTOCOL"},
    {CURLE_URL_MALFORMAT, "URL_MALFORMAT"},
    {CURLE_COULDNT_RESOLVE_HOST, "COULDNT_RESOLVE_HOST"},
    {CURLE_COULDNT_CONNECT, "COULDNT_CONNECT"},
    {CURLE_WEIRD_SERVER_REPLY, "WEIRD_SERVER_REPLY"},
    {CURLE_PARTIAL_FILE, "PARTIAL_FILE"},
    {CURLE_WRITE_ERROR, "WRITE_ERROR"},
    {CURLE_OUT_OF_MEMORY, "OUT_OF_MEMORY"},
    {CURLE_OPERATION_TIMEDOUT, "OPERATION_TIMEDOUT"},
    {CURLE_SSL_CONNECT_ERROR, "SSL_CONNECT_ERROR"},
    {CURLE_GOT_NOTHING, "GOT_NOTHING"},
    {CURLE_SEND_ERROR, "SEND_ERROR"},
    {CURLE_RECV_ERROR, "RECV_ERROR"},
    {CURLE_PEER_FAILED_VERIFICATION, "PEER_FAILED_VERIFICATION"},
    {CURLE_SSL_CACERT_BADFILE, "SSL_CACERT_BADFILE"},
    {CURLE_SSL_CERTPROBLEM, "SSL_CERTPROBLEM"},
    {CURLE_FILESIZE_EXCEEDED, "FILESIZE_EXCEEDED"},
    {CURLE_BAD_CONTENT_ENCODING, "BAD_CONTENT_ENCODING"},
    {CURLE_HTTP2, "HTTP2"},
    {CURLE_HTTP2_STREAM, "HTTP2_STREAM"},
    {CURLE_ABORTED_BY_CALLBACK, "ABORTED_BY_CALLBACK"},
};

void errors_push_transport(lua_State *L, CURLcode code, const char *errbuf,
                           int timed_out_connecting)
{
    size_t i;
    const char *name = NULL;
    for (i = 0; i < sizeof errors_curl_names / sizeof errors_curl_names[0]; i++)
        if (errors_curl_names[i].code == code) name = errors_curl_names[i].name;
    lua_createtable(L, 0, 8);
    lua_pushstring(L, code == CURLE_OPERATION_TIMEDOUT ? "timeout" : "transport");
    lua_setfield(L, -2, "kind");
    if (code == CURLE_OPERATION_TIMEDOUT && timed_out_connecting) name = "CONNECT_TIMEOUT";
    if (name) lua_pushstring(L, name);
    else lua_pushfstring(L, "CURLE_%d", (int)code);
    lua_setfield(L, -2, "code");
    lua_pushinteger(L, (lua_Integer)code);
    lua_setfield(L, -2, "curl_code");
    lua_pushstring(L, errbuf && *errbuf ? errbuf : curl_easy_strerror(code));
    lua_setfield(L, -2, "message");
    lua_pushstring(L, curl_easy_strerror(code));
    lua_setfield(L, -2, "title");
}

/* Retry-After: delta seconds or an HTTP date. Returns seconds to wait, or -1 if unreadable. */
double errors_retry_after(const char *value)
{
    const char *p = value;
    time_t when;
    if (value == NULL) return -1;
    while (*p == ' ' || *p == '\t') p++;
    if (*p >= '0' && *p <= '9') { /* delta-seconds; a decimal fraction is tolerated */
        double v = 0, scale = 0.1;
        for (; *p >= '0' && *p <= '9'; p++) {
            v = v * 10 + (*p - '0');
            if (v > 86400.0 * 365) return -1;
        }
        if (*p == '.')
            for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) v += (*p - '0') * scale;
        while (*p == ' ' || *p == '\t') p++;
        return *p == '\0' ? v : -1;
    }
    when = curl_getdate(p, NULL);
    if (when == (time_t)-1) return -1;
    {
        double d = difftime(when, time(NULL));
        return d < 0 ? 0 : d;
    }
}

/* core.decode_error(platform, status, body [, content_type [, secret]]) -> error table */
int errors_ldecode(lua_State *L)
{
    size_t n = 0;
    int platform = errors_platform(luaL_optstring(L, 1, "prolific"));
    long status = (long)luaL_checkinteger(L, 2);
    const char *body = luaL_optlstring(L, 3, "", &n);
    const char *ctype = luaL_optstring(L, 4, NULL);
    const char *secret = luaL_optstring(L, 5, NULL);
    errors_push_http(L, lua_upvalueindex(1), platform, status, body, n, ctype, secret);
    return 1;
}

/* core.retry_after(value) -> seconds or nil */
int errors_lretry_after(lua_State *L)
{
    double d = errors_retry_after(luaL_checkstring(L, 1));
    if (d < 0) lua_pushnil(L);
    else lua_pushnumber(L, d);
    return 1;
}
