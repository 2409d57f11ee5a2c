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
 *   anything else     HTML or text: the <title> or the first words, and the content type.
 * The decoder reads any shape without raising: a detail of any size or nesting, messages that
 * are not strings, fields named by any bytes (spec/fuzz/fuzz_errors.c fuzzes it). Every string
 * of the error table is then redacted, at any depth (errors_scrub). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- redaction ----
 *
 * What is masked, wherever it appears in a string cohort gives back:
 *   - the secret, and its percent-encoded form (the session refuses secrets shorter than
 *     SECRET_MIN bytes, so an occurrence is the secret, never a piece of an ordinary word);
 *   - the value of an apiKey query parameter (`?apiKey=` or `&apiKey=`, any letter case), up
 *     to the next delimiter: QuestionPro's legacy key, echoed in its error bodies' resourceUrl;
 *   - the user information of a URL (`scheme://user:password@host` becomes `scheme://` + mask
 *     + `@host`).
 * Masks never cross a '"' or a '\\', so masking the raw text of a JSON document leaves it
 * valid JSON. */

/* The first occurrence of needle (nl > 0 bytes) in s[0..n), or NULL. */
static const char *errors_find(const char *s, size_t n, const char *needle, size_t nl)
{
    const char *p = s, *last;
    if (nl == 0 || nl > n) return NULL;
    last = s + (n - nl); /* the last position where needle fits */
    while (p <= last && (p = memchr(p, needle[0], (size_t)(last - p) + 1)) != NULL) {
        if (memcmp(p, needle, nl) == 0) return p;
        p++;
    }
    return NULL;
}

/* Ends a masked query value. */
static int errors_value_stop(unsigned char c)
{
    return c == '&' || c == '#' || c == '"' || c == '\'' || c == '\\' || c == ' ' || c == '<' ||
           c == '>' || c < 32 || c == 127;
}

/* Ends the user information of a URL (a '@' ends it too). */
static int errors_userinfo_stop(unsigned char c)
{
    return c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || c == '\\' || c == ' ' ||
           c == '<' || c == '>' || c < 32 || c == 127;
}

/* Length of the user information after "://" at s (s points past the "://"), when what
 * follows is one ("user:pass@"); 0 otherwise. */
static size_t errors_userinfo(const char *s, size_t n)
{
    size_t j = 0;
    while (j < n && s[j] != '@' && !errors_userinfo_stop((unsigned char)s[j])) j++;
    return (j > 0 && j < n && s[j] == '@') ? j : 0;
}

/* Is s[i..] "?apikey=" or "&apikey=" (any case)? */
static int errors_is_apikey(const char *s, size_t n, size_t i)
{
    return (s[i] == '?' || s[i] == '&') && n - i >= 8 && strncasecmp(s + i + 1, "apikey=", 7) == 0;
}

/* Length of a secret starting at s (the longest of the forms that match), or 0. */
static size_t errors_secret_at(const char *s, size_t n, const secrets *sec)
{
    size_t k, m = 0;
    if (sec == NULL) return 0;
    for (k = 0; k < 2; k++) {
        size_t sl = sec->n[k];
        if (sl > 0 && sl <= n && sl > m && s[0] == sec->v[k][0] && memcmp(s, sec->v[k], sl) == 0)
            m = sl;
    }
    return m;
}

/* Does s[0..n) hold anything to mask? */
int errors_has_secret(const char *s, size_t n, const secrets *sec)
{
    const char *p, *end = s + n;
    size_t k;
    if (sec)
        for (k = 0; k < 2; k++)
            if (sec->n[k] > 0 && errors_find(s, n, sec->v[k], sec->n[k])) return 1;
    for (p = s; (p = memchr(p, '=', (size_t)(end - p))) != NULL; p++)
        if (p - s >= 7 && errors_is_apikey(s, n, (size_t)(p - 7 - s))) return 1;
    for (p = s; (p = errors_find(p, (size_t)(end - p), "://", 3)) != NULL; p += 3)
        if (errors_userinfo(p + 3, (size_t)(end - p - 3))) return 1;
    return 0;
}

/* Pushes s[0..n) with everything above masked as "***" (s itself when nothing is). */
void errors_push_redacted(lua_State *L, const char *s, size_t n, const secrets *sec)
{
    size_t i = 0, m;
    luaL_Buffer b;
    if (!errors_has_secret(s, n, sec)) { /* the common case */
        lua_pushlstring(L, s, n);
        return;
    }
    luaL_buffinit(L, &b);
    while (i < n) {
        if ((m = errors_secret_at(s + i, n - i, sec)) > 0) {
            luaL_addstring(&b, SECRET_MASK);
            i += m;
        } else if (errors_is_apikey(s, n, i)) {
            luaL_addlstring(&b, s + i, 8);
            luaL_addstring(&b, SECRET_MASK);
            i += 8;
            while (i < n && !errors_value_stop((unsigned char)s[i])) i++;
        } else if (s[i] == ':' && n - i > 3 && s[i + 1] == '/' && s[i + 2] == '/' &&
                   (m = errors_userinfo(s + i + 3, n - i - 3)) > 0) {
            luaL_addstring(&b, "://" SECRET_MASK);
            i += 3 + m; /* the '@' is kept */
        } else {
            luaL_addchar(&b, s[i]);
            i++;
        }
    }
    luaL_pushresult(&b);
}

/* Masks, in place, every string of the table at idx and of the tables inside it, keys and
 * values, at any depth. Returns 0 when the Lua stack cannot grow for this level: the caller
 * then replaces the table, so nothing below it is given back unmasked. */
static int errors_scrub_table(lua_State *L, int idx, const secrets *sec, int depth)
{
    int pending;
    idx = lua_absindex(L, idx);
    if (depth > 4000 || !lua_checkstack(L, 8)) return 0;
    lua_pushnil(L); /* slot for the keys to rename, made on first need */
    pending = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int t = lua_type(L, -1);
        if (t == LUA_TSTRING) {
            size_t n;
            const char *v = lua_tolstring(L, -1, &n);
            if (errors_has_secret(v, n, sec)) {
                lua_pushvalue(L, -2);
                errors_push_redacted(L, v, n, sec);
                lua_rawset(L, idx); /* a new value for a key that exists: safe in lua_next */
            }
        } else if (t == LUA_TTABLE) {
            if (!errors_scrub_table(L, -1, sec, depth + 1)) {
                lua_pushvalue(L, -2);
                lua_pushliteral(L, "(nested too deep)");
                lua_rawset(L, idx);
            }
        }
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t kn;
            const char *k = lua_tolstring(L, -1, &kn);
            if (errors_has_secret(k, kn, sec)) { /* renamed after the traversal */
                if (lua_isnil(L, pending)) {
                    lua_newtable(L);
                    lua_replace(L, pending);
                }
                lua_pushvalue(L, -1);
                lua_rawseti(L, pending, (lua_Integer)lua_rawlen(L, pending) + 1);
            }
        }
    }
    if (!lua_isnil(L, pending)) {
        lua_Integer i, len = (lua_Integer)lua_rawlen(L, pending);
        for (i = 1; i <= len; i++) {
            size_t kn;
            const char *k;
            lua_rawgeti(L, pending, i); /* old key */
            k = lua_tolstring(L, -1, &kn);
            errors_push_redacted(L, k, kn, sec); /* new key */
            lua_pushvalue(L, -2);
            lua_rawget(L, idx);                   /* value */
            lua_pushvalue(L, -3);
            lua_pushnil(L);
            lua_rawset(L, idx);                   /* old key removed */
            lua_rawset(L, idx);                   /* new key = value */
            lua_pop(L, 1);
        }
    }
    lua_settop(L, pending - 1);
    return 1;
}

/* Masks every string reachable from the table at idx (see errors_scrub_table). */
void errors_scrub(lua_State *L, int idx, const secrets *sec)
{
    idx = lua_absindex(L, idx);
    if (!errors_scrub_table(L, idx, sec, 0)) {
        /* not even one level: keep only fields cohort itself wrote, which carry no secret */
        lua_pushnil(L);
        lua_setfield(L, idx, "detail");
        lua_pushnil(L);
        lua_setfield(L, idx, "fields");
        lua_pushliteral(L, "(an error body cohort could not read)");
        lua_setfield(L, idx, "message");
    }
}

static const char *errors_reason(long status)
{
    switch (status) {
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
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
    default:
        return status >= 500 ? "Server Error" : status >= 400 ? "Client Error"
             : status >= 300 ? "Redirect" : "Answer";
    }
}

/* table at t: t[key] = value at top if it is a string (pops it either way) */
static void errors_set_string(lua_State *L, int t, const char *key)
{
    if (lua_type(L, -1) == LUA_TSTRING) lua_setfield(L, t, key);
    else lua_pop(L, 1);
}

/* The most fields and messages one error message lists (err.fields keeps them all). */
#define ERRORS_MAX_FIELDS 32
#define ERRORS_MAX_MESSAGES 16

/* Appends to the array at `out` the strings and numbers found in the value at idx: the value
 * itself, or, in a table, its elements (array part first, in order; then the rest), depth first,
 * to a few levels; at most ERRORS_MAX_MESSAGES in all. */
static void errors_gather(lua_State *L, int out, int idx, int depth)
{
    int t;
    idx = lua_absindex(L, idx);
    t = lua_type(L, idx);
    if ((lua_Integer)lua_rawlen(L, out) >= ERRORS_MAX_MESSAGES) return;
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        lua_pushvalue(L, idx);
        lua_rawseti(L, out, (lua_Integer)lua_rawlen(L, out) + 1);
    } else if (t == LUA_TTABLE && depth < 6 && lua_checkstack(L, 4)) {
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            errors_gather(L, out, -1, depth + 1);
            lua_pop(L, 1);
        }
    }
}

typedef struct errors_name {
    const char *s;
    size_t n;
} errors_name;

static int errors_name_cmp(const void *a, const void *b)
{
    const errors_name *x = (const errors_name *)a, *y = (const errors_name *)b;
    int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Joins the strings and numbers of the array at `parts` with sep; pushes the line, or nil for
 * an empty array. The array stays. */
static void errors_join(lua_State *L, int parts, const char *sep)
{
    luaL_Buffer b;
    lua_Integer i, len = (lua_Integer)lua_rawlen(L, parts);
    if (len == 0) {
        lua_pushnil(L);
        return;
    }
    luaL_buffinit(L, &b);
    for (i = 1; i <= len; i++) {
        if (i > 1) luaL_addstring(&b, sep);
        lua_rawgeti(L, parts, i);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
}

/* Pushes one line of text made from a detail value (a string, an array of messages, or an
 * object of field -> messages), or nil; stores err.fields (field -> array of messages) for the
 * object form. Any shape is read: messages that are not strings or numbers are skipped,
 * nested arrays and objects are searched a few levels down, and however many fields there
 * are, the line names the first ERRORS_MAX_FIELDS of them in sorted order. */
static void errors_detail_message(lua_State *L, int err, int detail)
{
    int fields, parts;
    detail = lua_absindex(L, detail);
    luaL_checkstack(L, 12, NULL);
    if (lua_type(L, detail) == LUA_TSTRING) {
        lua_pushvalue(L, detail);
        return;
    }
    if (!lua_istable(L, detail)) {
        lua_pushnil(L);
        return;
    }
    lua_newtable(L);
    parts = lua_gettop(L);
    if (lua_rawlen(L, detail) > 0) { /* an array of messages */
        errors_gather(L, parts, detail, 0);
        errors_join(L, parts, "; ");
        lua_remove(L, parts);
        return;
    }
    /* an object: field -> message(s) */
    lua_newtable(L);
    fields = lua_gettop(L);
    {
        size_t nf = 0, i;
        errors_name *names;
        lua_pushnil(L);
        while (lua_next(L, detail) != 0) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                lua_pushvalue(L, -2);
                lua_newtable(L);
                errors_gather(L, lua_gettop(L), -3, 0);
                lua_rawset(L, fields);
                nf++;
            }
            lua_pop(L, 1);
        }
        lua_pushvalue(L, fields);
        lua_setfield(L, err, "fields");
        if (nf == 0) {
            lua_settop(L, parts - 1);
            lua_pushnil(L);
            return;
        }
        /* the names, sorted, for a stable message; the array is a userdata, so a raise
         * (out of memory) leaves it to the collector */
        names = (errors_name *)COHORT_NEWUDATA(L, nf * sizeof *names);
        i = 0;
        lua_pushnil(L);
        while (lua_next(L, fields) != 0 && i < nf) {
            names[i].s = lua_tolstring(L, -2, &names[i].n); /* a string key: no conversion */
            i++;
            lua_pop(L, 1);
        }
        nf = i;
        lua_settop(L, fields + 1); /* a key and value left when the loop stopped early */
        qsort(names, nf, sizeof *names, errors_name_cmp);
        for (i = 0; i < nf && i < ERRORS_MAX_FIELDS; i++) {
            luaL_Buffer b;
            lua_Integer k, len;
            int msgs;
            lua_pushlstring(L, names[i].s, names[i].n);
            lua_rawget(L, fields);
            msgs = lua_gettop(L);
            len = (lua_Integer)lua_rawlen(L, msgs);
            luaL_buffinit(L, &b);
            luaL_addlstring(&b, names[i].s, names[i].n);
            luaL_addchar(&b, ':');
            for (k = 1; k <= len; k++) {
                luaL_addchar(&b, ' ');
                lua_rawgeti(L, msgs, k);
                luaL_addvalue(&b);
            }
            luaL_pushresult(&b);
            lua_rawseti(L, parts, (lua_Integer)i + 1);
            lua_pop(L, 1); /* msgs */
        }
        if (nf > ERRORS_MAX_FIELDS) {
            lua_pushfstring(L, "and %d more fields", (int)(nf - ERRORS_MAX_FIELDS));
            lua_rawseti(L, parts, ERRORS_MAX_FIELDS + 1);
        }
    }
    lua_settop(L, fields);
    errors_join(L, parts, "; ");
    lua_replace(L, parts);
    lua_settop(L, parts);
}

#define SNIPPET_TITLE 80
#define SNIPPET_TEXT 120

/* Pushes the visible text of body[0..n): the content of <title>…</title> (returns 1), or the
 * first visible characters of the body (returns 0); whitespace runs become one space, tags and
 * control characters are dropped, and the text is cut at a UTF-8 character boundary. */
static int errors_push_snippet(lua_State *L, const char *body, size_t n)
{
    const char *t = NULL, *e = NULL;
    size_t i, out = 0, limit;
    luaL_Buffer b;
    int in_tag = 0, space = 0, title = 0;
    for (i = 0; i + 7 <= n; i++)
        if ((body[i] == '<') && strncasecmp(body + i, "<title", 6) == 0 &&
            (body[i + 6] == '>' || body[i + 6] == ' ')) {
            const char *gt = memchr(body + i, '>', n - i);
            if (gt == NULL) break;
            t = gt + 1;
            break;
        }
    if (t != NULL) {
        for (e = t; e + 8 <= body + n; e++)
            if (*e == '<' && strncasecmp(e, "</title>", 8) == 0) break;
        if (e + 8 > body + n) e = body + n;
        title = 1;
    } else {
        t = body;
        e = body + n;
    }
    limit = title ? SNIPPET_TITLE : SNIPPET_TEXT;
    luaL_buffinit(L, &b);
    for (; t < e; t++) {
        unsigned char c = (unsigned char)*t;
        if (c == '<') in_tag = 1;
        else if (c == '>') in_tag = 0;
        else if (!in_tag) {
            if (c <= 32 || c == 127) {
                space = out > 0;
            } else {
                if (out >= limit && (c & 0xC0) != 0x80) { /* full, at a character boundary */
                    luaL_addstring(&b, "\xE2\x80\xA6"); /* … */
                    break;
                }
                if (space) luaL_addchar(&b, ' '), out++;
                space = 0;
                luaL_addchar(&b, (char)c);
                out++;
            }
        }
    }
    luaL_pushresult(&b);
    return title;
}

/* Pushes "instead of JSON …" text for a body that is not JSON: the content type, and the
 * page's title or first words. */
static void errors_push_not_json_text(lua_State *L, const char *body, size_t n, const char *ctype)
{
    int title;
    if (ctype && strstr(ctype, "json"))
        lua_pushfstring(L, "the server answered invalid JSON (%s)", ctype);
    else
        lua_pushfstring(L, "the server answered %s instead of JSON",
                        ctype && *ctype ? ctype : "a body that is not JSON");
    title = errors_push_snippet(L, body, n);
    if (lua_rawlen(L, -1) == 0) {
        lua_pop(L, 1);
        return;
    }
    lua_pushstring(L, title ? " (title \"" : ": \"");
    lua_insert(L, -2);
    lua_pushstring(L, title ? "\")" : "\"");
    lua_concat(L, 4);
}

void errors_push_http(lua_State *L, int decode, int platform, long status, const char *body,
                      size_t n, const char *ctype, const secrets *sec)
{
    int err, doc = 0;
    decode = lua_absindex(L, decode);
    luaL_checkstack(L, 16, NULL);
    lua_createtable(L, 0, 12);
    err = lua_gettop(L);
    lua_pushliteral(L, "http");
    lua_setfield(L, err, "kind");
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, err, "status");
    lua_pushstring(L, errors_platform_name(platform));
    lua_setfield(L, err, "platform");

    if (n > 0 && body != NULL) {
        /* the secret masked in the text first, so that no copy of it exists at any depth of
         * the decoded body; the strings decoded are masked again below (an escaped echo) */
        if (errors_has_secret(body, n, sec)) {
            errors_push_redacted(L, body, n, sec);
            body = lua_tolstring(L, -1, &n);
        } else {
            lua_pushnil(L);
        }
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
    } else if (n > 0) {
        /* not JSON: an HTML error page from a proxy, or text */
        errors_push_not_json_text(L, body, n, ctype);
        lua_setfield(L, err, "message");
        lua_pushliteral(L, "decode");
        lua_setfield(L, err, "body_kind");
    }
    lua_settop(L, err);
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
    errors_scrub(L, err, sec);
}

/* The error of a 2xx answer that is not the JSON due: kind "decode", the content type, and the
 * page's title or first words; `reason` is the decoder's message when the body looked like
 * JSON (or was labelled so). */
void errors_push_not_json(lua_State *L, long status, const char *body, size_t n,
                          const char *ctype, const char *reason, const secrets *sec)
{
    int err;
    size_t i = 0;
    luaL_checkstack(L, 8, NULL);
    lua_createtable(L, 0, 6);
    err = lua_gettop(L);
    lua_pushliteral(L, "decode");
    lua_setfield(L, err, "kind");
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, err, "status");
    /* masked before anything is cut from it: a title shortened through the middle of the
     * secret would show its first characters */
    if (n > 0 && errors_has_secret(body, n, sec)) {
        errors_push_redacted(L, body, n, sec);
        body = lua_tolstring(L, -1, &n);
    }
    while (i < n && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) i++;
    if (n == 0) {
        lua_pushliteral(L, "Empty answer");
        lua_setfield(L, err, "title");
        lua_pushfstring(L, "the server answered %d with an empty body where JSON was due",
                        (int)status);
    } else if ((ctype && strstr(ctype, "json")) ||
               ((!ctype || !*ctype) && i < n && body[i] != '\0' &&
                strchr("{[\"-0123456789tfn", body[i]))) {
        lua_pushliteral(L, "Invalid JSON");
        lua_setfield(L, err, "title");
        lua_pushfstring(L, "the server's answer is not valid JSON%s%s%s: %s",
                        ctype && *ctype ? " (" : "", ctype && *ctype ? ctype : "",
                        ctype && *ctype ? ")" : "", reason ? reason : "unreadable");
    } else {
        lua_pushliteral(L, "Not JSON");
        lua_setfield(L, err, "title");
        errors_push_not_json_text(L, body, n, ctype);
    }
    lua_setfield(L, err, "message");
    lua_settop(L, err);
    errors_scrub(L, err, sec);
}

/* The error of a 3xx answer: redirects are never followed (they would carry the credentials
 * to wherever they point), so each is an error of its own kind, with the target redacted. */
void errors_push_redirect(lua_State *L, long status, const char *location, const secrets *sec)
{
    int err;
    luaL_checkstack(L, 8, NULL);
    lua_createtable(L, 0, 8);
    err = lua_gettop(L);
    lua_pushliteral(L, "redirect");
    lua_setfield(L, err, "kind");
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, err, "status");
    lua_pushstring(L, errors_reason(status));
    lua_setfield(L, err, "title");
    if (location && *location) {
        errors_push_redacted(L, location, strlen(location), sec);
        lua_setfield(L, err, "location");
        lua_getfield(L, err, "location");
        lua_pushfstring(L, "the server answered %d %s, to %s; cohort does not follow redirects "
                        "(they would carry the credentials)", (int)status,
                        errors_reason(status), lua_tostring(L, -1));
        lua_remove(L, -2);
    } else {
        lua_pushfstring(L, "the server answered %d %s without a Location; cohort does not follow "
                        "redirects (they would carry the credentials)", (int)status,
                        errors_reason(status));
    }
    lua_setfield(L, err, "message");
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

/* Retry-After: delta seconds (a decimal fraction is tolerated) or an HTTP date. Returns the
 * seconds the server asked for — 0 for a date in the past, however large for a large value
 * (capped near 1e300, never infinite) — or -1 when the value cannot be read (empty, negative,
 * anything else). Whether that wait is honoured is the caller's decision (RETRY_AFTER_MAX). */
double errors_retry_after(const char *value)
{
    const char *p = value;
    time_t when;
    if (value == NULL) return -1;
    while (*p == ' ' || *p == '\t') p++;
    if (*p >= '0' && *p <= '9') {
        double v = 0, scale = 0.1;
        for (; *p >= '0' && *p <= '9'; p++)
            if (v < 1e300) v = v * 10 + (*p - '0');
        if (*p == '.')
            for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) v += (*p - '0') * scale;
        while (*p == ' ' || *p == '\t') p++;
        return *p == '\0' ? v : -1;
    }
    if (*p == '\0' || *p == '-' || *p == '+') return -1;
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
    size_t n = 0, sn = 0;
    int platform = errors_platform(luaL_optstring(L, 1, "prolific"));
    long status = (long)luaL_checkinteger(L, 2);
    const char *body = luaL_optlstring(L, 3, "", &n);
    const char *ctype = luaL_optstring(L, 4, NULL);
    const char *secret = luaL_optlstring(L, 5, NULL, &sn);
    secrets sec;
    memset(&sec, 0, sizeof sec);
    sec.v[0] = secret;
    sec.n[0] = secret ? sn : 0;
    errors_push_http(L, lua_upvalueindex(1), platform, status, body, n, ctype, &sec);
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
