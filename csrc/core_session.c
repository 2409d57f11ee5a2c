/* core_session.c — the Session userdata: a libcurl multi handle and a share handle.
 *
 * Every transfer runs on the multi handle; a blocking request is "submit, then step until that
 * one is done". Results that finish while the caller waits for another are stashed in a Lua table
 * (registry ref) and handed out by the next step(). libcurl callbacks only fill C buffers: no Lua
 * code ever runs inside a libcurl frame, so no Lua error can cross one.
 *
 * Objects are born closed (as in liolib): the userdata is created zeroed with its metatable, then
 * the handles are opened; close, __gc and __close are one idempotent function. */
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>
#include <time.h>
#include "core.h"

static char *session_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static session *session_check(lua_State *L, int idx)
{
    session *s = (session *)luaL_checkudata(L, idx, SESSION_MT);
    if (s->closed) luaL_error(L, "attempt to use a closed cohort session");
    return s;
}

/* ---- libcurl callbacks: C only ---- */

static size_t request_write(char *p, size_t size, size_t nmemb, void *ud)
{
    request *r = (request *)ud;
    size_t n = size * nmemb;
    if (r->body.len + n > r->max_size) {
        r->too_large = 1;
        return 0; /* abort the transfer: CURLE_WRITE_ERROR */
    }
    return cbuf_append(&r->body, p, n) ? n : 0;
}

static size_t request_header(char *p, size_t size, size_t nmemb, void *ud)
{
    request *r = (request *)ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) r->head.len = 0; /* a new response: 1xx, redirect */
    if (r->head.len + n > HEADER_MAX) {
        r->head_too_large = 1;
        return 0; /* abort the transfer; reported as too_large */
    }
    return cbuf_append(&r->head, p, n) ? n : 0;
}

/* ---- request lifetime ---- */

/* Frees a header list, first overwriting every line: one of them carries the credentials. */
static void session_free_headers(struct curl_slist *l)
{
    struct curl_slist *p;
    for (p = l; p; p = p->next)
        if (p->data) memset(p->data, 0, strlen(p->data));
    curl_slist_free_all(l);
}


static void request_free(session *s, request *r)
{
    if (r->easy) {
        curl_multi_remove_handle(s->multi, r->easy);
        if (s->npool < SESSION_POOL) {
            /* back to the pool with its session-wide options kept (see session_easy); only
             * what pointed into this request is cleared */
            curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, NULL);
            curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, NULL);
            curl_easy_setopt(r->easy, CURLOPT_PRIVATE, NULL);
            curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, NULL);
            curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, NULL);
            s->pool[s->npool++] = r->easy;
        } else {
            curl_easy_cleanup(r->easy);
        }
    }
    session_free_headers(r->headers);
    free(r->url);
    free(r->method);
    cbuf_free(&r->body);
    cbuf_free(&r->head);
    free(r);
}

static void request_unlink(session *s, request *r)
{
    if (r->prev) r->prev->next = r->next;
    else s->inflight = r->next;
    if (r->next) r->next->prev = r->prev;
    s->n_inflight--;
    if (r->parked) s->n_parked--;
}

static void session_release(session *s)
{
    int i;
    while (s->inflight) {
        request *r = s->inflight;
        request_unlink(s, r);
        request_free(s, r);
    }
    for (i = 0; i < s->npool; i++) curl_easy_cleanup(s->pool[i]);
    s->npool = 0;
    session_free_headers(s->hdr_plain);
    session_free_headers(s->hdr_body);
    s->hdr_plain = s->hdr_body = NULL;
    if (s->multi) curl_multi_cleanup(s->multi);
    if (s->share) curl_share_cleanup(s->share);
    s->multi = NULL;
    s->share = NULL;
    if (s->secret) {
        memset(s->secret, 0, strlen(s->secret));
        free(s->secret);
    }
    if (s->secret_enc) {
        memset(s->secret_enc, 0, strlen(s->secret_enc));
        free(s->secret_enc);
    }
    free(s->ca_file);
    s->secret = s->secret_enc = s->ca_file = NULL;
    memset(&s->redact, 0, sizeof s->redact);
}

/* close, __gc and __close */
static int session_close(lua_State *L)
{
    session *s = (session *)luaL_checkudata(L, 1, SESSION_MT);
    if (!s->closed) {
        s->closed = 1;
        session_release(s);
        luaL_unref(L, LUA_REGISTRYINDEX, s->stash_ref);
        s->stash_ref = LUA_NOREF;
    }
    return 0;
}

static long session_ms(lua_State *L, int t, const char *field, long def)
{
    lua_Number v;
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return def;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "cohort.core: %s must be a number of seconds", field);
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(v > 0) || v > 86400.0 * 7)
        luaL_error(L, "cohort.core: %s must be a positive number of seconds", field);
    return (long)(v * 1000.0 + 0.5) > 0 ? (long)(v * 1000.0 + 0.5) : 1;
}

/* A number of retries (after the first attempt) at the top of the stack: nil gives def;
 * anything but an integer from 0 to 100 raises with the name given. */
static int session_retries(lua_State *L, const char *name, int def)
{
    lua_Integer v;
    if (lua_isnil(L, -1)) return def;
    v = COHORT_ISINT(L, -1) ? lua_tointeger(L, -1) : -1;
    if (v < 0 || v > 100)
        luaL_error(L, "cohort.core: %s must be an integer from 0 to 100 (retries after the first "
                   "attempt; 0: one attempt only)", name);
    return (int)v;
}

/* core.session{auth=, secret=, platform=, connect_timeout=, timeout=, ca_file=, max_size=,
 *              max_connections=, retries=, retry_base=, retry_cap=, retry_budget=} */
static int session_new(lua_State *L)
{
    session *s;
    const char *auth, *secret, *ca, *platform;
    long cto, to;
    lua_Number max, conns;
    int retries;
    size_t secret_len = 0, i;
    double rbase, rcap, rbudget;
    unsigned long long seed;

    if (lua_isnoneornil(L, 1)) lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    /* read and check every option before anything is allocated */
    lua_getfield(L, 1, "auth");
    auth = lua_tostring(L, -1);
    lua_getfield(L, 1, "secret");
    secret = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &secret_len) : NULL;
    if (!lua_isnil(L, -1) && secret == NULL) luaL_error(L, "cohort.core: secret must be a string");
    lua_getfield(L, 1, "ca_file");
    ca = lua_tostring(L, -1);
    lua_getfield(L, 1, "platform");
    platform = lua_tostring(L, -1);
    cto = session_ms(L, 1, "connect_timeout", 10000);
    to = session_ms(L, 1, "timeout", 30000);
    lua_getfield(L, 1, "max_size");
    max = lua_isnil(L, -1) ? 64.0 * 1024 * 1024 : lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(max >= 1) || max > 1e15) luaL_error(L, "cohort.core: max_size must be a positive number");
    /* a bare session retries nothing unless told; the clients default to 3 */
    lua_getfield(L, 1, "retries");
    retries = session_retries(L, "retries", 0);
    lua_pop(L, 1);
    rbase = session_ms(L, 1, "retry_base", 250) / 1000.0;
    rcap = session_ms(L, 1, "retry_cap", 8000) / 1000.0;
    rbudget = session_ms(L, 1, "retry_budget", 60000) / 1000.0;
    lua_getfield(L, 1, "retry_seed");
    seed = lua_isnil(L, -1) ? 0 : (unsigned long long)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "max_connections");
    conns = lua_isnil(L, -1) ? 16 : lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(conns >= 1) || conns > 1024)
        luaL_error(L, "cohort.core: max_connections must be a number from 1 to 1024");
    if (auth && strcmp(auth, "token") && strcmp(auth, "api-key") && strcmp(auth, "query"))
        luaL_error(L, "cohort.core: auth must be 'token', 'api-key' or 'query'");
    if (auth && (secret == NULL || *secret == '\0'))
        luaL_error(L, "cohort.core: auth '%s' needs a secret", auth);
    if (secret) {
        /* a secret is sent whole or not at all: a NUL would cut it, a control character
         * would break the header; and one too short could not be masked in messages without
         * masking ordinary words too */
        for (i = 0; i < secret_len; i++) {
            unsigned char c = (unsigned char)secret[i];
            if (c < 32 || c == 127)
                luaL_error(L, "cohort.core: the secret contains a control character (a NUL, a "
                           "line break or another byte below 32; a trailing newline read from a "
                           "file is the usual cause)");
        }
        if (secret_len < SECRET_MIN)
            luaL_error(L, "cohort.core: the secret is shorter than %d characters, too short to "
                       "keep out of every message safely", SECRET_MIN);
    }

    s = (session *)COHORT_NEWUDATA(L, sizeof(session));
    memset(s, 0, sizeof *s);
    s->closed = 1; /* born closed until every handle is open */
    s->stash_ref = LUA_NOREF;
    luaL_setmetatable(L, SESSION_MT);
    s->multi = curl_multi_init();
    s->share = curl_share_init();
    s->secret = secret ? session_strdup(secret) : NULL;
    s->secret_enc = secret ? url_encode_dup(secret, secret_len) : NULL;
    s->ca_file = ca ? session_strdup(ca) : NULL;
    if (!s->multi || !s->share || (secret && (!s->secret || !s->secret_enc)) ||
        (ca && !s->ca_file)) {
        session_release(s);
        return luaL_error(L, "cohort.core: out of memory creating a session");
    }
    if (s->secret_enc && strcmp(s->secret_enc, s->secret) == 0) {
        free(s->secret_enc); /* the same: nothing secret in it to wipe that secret lacks */
        s->secret_enc = NULL;
    }
    if (s->secret) {
        s->redact.v[0] = s->secret;
        s->redact.n[0] = secret_len;
    }
    if (s->secret_enc) {
        s->redact.v[1] = s->secret_enc;
        s->redact.n[1] = strlen(s->secret_enc);
    }
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    /* at most this many connections to one host; further transfers wait in libcurl's queue */
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)conns * 2);
    s->auth = !auth ? AUTH_NONE
            : strcmp(auth, "token") == 0 ? AUTH_TOKEN
            : strcmp(auth, "api-key") == 0 ? AUTH_APIKEY : AUTH_QUERY;
    s->platform = errors_platform(platform);
    s->connect_timeout_ms = cto;
    s->timeout_ms = to;
    s->max_size = (size_t)max;
    s->next_id = 1;
    snprintf(s->user_agent, sizeof s->user_agent, "cohort/%s libcurl/%s", COHORT_VERSION,
             curl_version_info(CURLVERSION_NOW)->version);
    s->max_attempts = retries + 1;
    s->retry_base = rbase;
    s->retry_cap = rcap;
    s->retry_budget = rbudget;
    s->rng = seed ? seed : ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)(size_t)s;
    if (s->rng == 0) s->rng = 88172645463325252ULL;
    lua_newtable(L);
    s->stash_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    s->closed = 0;
    return 1;
}

/* Appends a line to a header list; 0 when out of memory (the list is unchanged then). */
static int slist_add(struct curl_slist **l, const char *line)
{
    struct curl_slist *n = curl_slist_append(*l, line);
    if (n == NULL) return 0;
    *l = n;
    return 1;
}

/* Makes the standard request headers into *l (empty before): Accept (unless the caller gives
 * one), the credentials, and with a body Content-Type (unless given) and an empty Expect (no
 * "100-continue" round trip). Returns 0 when out of memory. */
static int session_std_headers(session *s, struct curl_slist **l, int with_body, int has_accept,
                               int has_ctype)
{
    /* built apart and handed over whole: a list cut short by a failed allocation is never
     * kept (the session's lists are reused by every later request) */
    struct curl_slist *built = NULL;
    int ok = (has_accept || slist_add(&built, "Accept: application/json")) &&
             (!with_body || (slist_add(&built, "Expect:") &&
                             (has_ctype || slist_add(&built, "Content-Type: application/json"))));
    if (ok && (s->auth == AUTH_TOKEN || s->auth == AUTH_APIKEY)) {
        size_t len = strlen(s->secret) + 32;
        char *h = malloc(len);
        ok = h != NULL;
        if (ok) {
            snprintf(h, len, s->auth == AUTH_TOKEN ? "Authorization: Token %s" : "api-key: %s",
                     s->secret);
            ok = slist_add(&built, h);
            memset(h, 0, len);
            free(h);
        }
    }
    if (!ok) {
        session_free_headers(built);
        return 0;
    }
    *l = built;
    return 1;
}

/* An easy handle for this session: from the pool, or new with the options that are the same
 * for every request of the session (set once, not on every request). */
static CURL *session_easy(session *s)
{
    CURL *e;
    if (s->npool > 0) return s->pool[--s->npool];
    e = curl_easy_init();
    if (e == NULL) return NULL;
    curl_easy_setopt(e, CURLOPT_USERAGENT, s->user_agent);
    curl_easy_setopt(e, CURLOPT_SHARE, s->share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, request_write);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, request_header);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max_size);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    return e;
}

/* s:submit(req) -> id. Validates and builds everything on the Lua stack, then allocates. */
static int session_submit(lua_State *L)
{
    session *s = session_check(L, 1);
    const char *method, *body = NULL, *url;
    size_t body_len = 0;
    long timeout_ms;
    int headers_idx, has_ctype = 0, has_accept = 0, ok = 1, attempts, idempotent, compress;
    request *r;
    CURL *e;

    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_getfield(L, 2, "method");
    method = luaL_optstring(L, -1, "GET");
    {
        const char *m;
        for (m = method; *m; m++)
            if (!isupper((unsigned char)*m)) luaL_error(L, "cohort.core: bad method '%s'", method);
        if (*method == '\0') luaL_error(L, "cohort.core: empty method");
    }
    url_build(L, 2, s->auth == AUTH_QUERY ? s->secret : NULL); /* 4 */
    url = lua_tostring(L, 4);
    lua_getfield(L, 2, "body"); /* 5 */
    if (!lua_isnil(L, 5)) {
        if (lua_type(L, 5) != LUA_TSTRING)
            luaL_error(L, "cohort.core: request.body must be a string (already encoded)");
        body = lua_tolstring(L, 5, &body_len);
    }
    lua_getfield(L, 2, "headers"); /* 6 */
    headers_idx = 6;
    if (!lua_isnil(L, 6)) {
        luaL_checktype(L, 6, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 6) != 0) {
            const char *k = lua_tostring(L, -2), *v = lua_tostring(L, -1);
            if (lua_type(L, -2) != LUA_TSTRING || v == NULL)
                luaL_error(L, "cohort.core: headers must map names to strings");
            if (strpbrk(k, "\r\n: ") || strpbrk(v, "\r\n"))
                luaL_error(L, "cohort.core: header '%s' has a forbidden character", k);
            if (strcasecmp(k, "content-type") == 0) has_ctype = 1;
            if (strcasecmp(k, "accept") == 0) has_accept = 1;
            if (strcasecmp(k, "authorization") == 0 || strcasecmp(k, "api-key") == 0)
                luaL_error(L, "cohort.core: credentials go in the session, not in headers");
            lua_pop(L, 1);
        }
    }
    timeout_ms = session_ms(L, 2, "timeout", s->timeout_ms);
    lua_getfield(L, 2, "retries");
    attempts = session_retries(L, "request.retries", s->max_attempts - 1) + 1;
    lua_pop(L, 1);
    /* safe to repeat: GET, HEAD, PUT, DELETE, OPTIONS by default; others when told so */
    lua_getfield(L, 2, "idempotent");
    idempotent = lua_isnil(L, -1)
        ? (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || strcmp(method, "PUT") == 0
           || strcmp(method, "DELETE") == 0 || strcmp(method, "OPTIONS") == 0)
        : lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "compress");
    compress = lua_toboolean(L, -1);
    lua_pop(L, 1);

    /* allocation starts here: no Lua error from now on */
    r = calloc(1, sizeof *r);
    if (r == NULL) return luaL_error(L, "cohort.core: out of memory");
    r->max_size = s->max_size;
    r->attempts = 1;
    r->max_attempts = attempts;
    r->idempotent = idempotent;
    r->deadline = core_now() + s->retry_budget;
    r->url = session_strdup(url);
    r->method = session_strdup(method);
    e = session_easy(s);
    r->easy = e;
    ok = r->url && r->method && e;
    if (ok) {
        curl_easy_setopt(e, CURLOPT_URL, r->url);
        curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)r);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)r);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)r);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
        /* Accept-Encoding (gzip …) only where it pays: libcurl's decoding machinery costs about
         * a tenth of a small call, and single objects gain next to nothing from it */
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, compress ? "" : NULL);
        /* the method: back to a plain GET first, as a pooled handle remembers the last one */
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        if (strcmp(method, "GET") == 0) {
            curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        } else if (strcmp(method, "HEAD") == 0) {
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        } else {
            if (strcmp(method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
            if (body || strcmp(method, "POST") == 0) {
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
                curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body ? body : "");
            }
        }
        if (lua_isnil(L, headers_idx)) {
            /* no headers of its own: the session's list, built on first use */
            struct curl_slist **l = body ? &s->hdr_body : &s->hdr_plain;
            ok = *l != NULL || session_std_headers(s, l, body != NULL, 0, 0);
            if (ok) curl_easy_setopt(e, CURLOPT_HTTPHEADER, *l);
        } else {
            ok = session_std_headers(s, &r->headers, body != NULL, has_accept, has_ctype);
            lua_pushnil(L);
            while (ok && lua_next(L, headers_idx) != 0) {
                /* checked above; nothing here raises */
                size_t kn, vn;
                const char *k = lua_tolstring(L, -2, &kn), *v = lua_tolstring(L, -1, &vn);
                char *h = malloc(kn + vn + 3);
                ok = h != NULL;
                if (ok) {
                    memcpy(h, k, kn);
                    memcpy(h + kn, ": ", 2);
                    memcpy(h + kn + 2, v, vn + 1);
                    ok = slist_add(&r->headers, h);
                    free(h);
                }
                lua_pop(L, 1);
            }
            if (!ok) lua_pop(L, 1);
        }
        if (ok && r->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
        ok = ok && curl_multi_add_handle(s->multi, e) == CURLM_OK;
    }
    if (!ok) {
        request_free(s, r);
        return luaL_error(L, "cohort.core: out of memory preparing a request");
    }
    r->id = s->next_id++;
    r->next = s->inflight;
    if (s->inflight) s->inflight->prev = r;
    s->inflight = r;
    s->n_inflight++;
    lua_pushinteger(L, r->id);
    return 1;
}

/* The value of response header `name` (lower-case) as a NUL-terminated copy in buf, or NULL. */
static const char *response_header(request *r, const char *name, char *buf, size_t size)
{
    size_t nl = strlen(name);
    const char *p = r->head.data, *end = r->head.data + r->head.len;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ln = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (ln > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t vn;
            while (v < p + ln && (*v == ' ' || *v == '\t')) v++;
            vn = (size_t)(p + ln - v);
            while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == ' ')) vn--;
            if (vn >= size) vn = size - 1;
            memcpy(buf, v, vn);
            buf[vn] = '\0';
            return buf;
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}

/* result.headers, made on first use from result.raw_headers: lower-case name -> value
 * (repeated names joined by ", "), then stored in the result. Building it for every answer
 * would cost more than the rest of a small call's bookkeeping; most callers never look. */
static int result_index(lua_State *L)
{
    const char *key = lua_tostring(L, 2), *data;
    char *copy;
    size_t len;
    int t;
    if (key == NULL || strcmp(key, "headers") != 0) return 0;
    lua_getfield(L, 1, "raw_headers");
    data = lua_tolstring(L, -1, &len);
    if (data == NULL) return 0;
    copy = (char *)COHORT_NEWUDATA(L, len + 1); /* names are lower-cased in a copy */
    memcpy(copy, data, len);
    lua_createtable(L, 0, 8);
    t = lua_gettop(L);
    {
        char *line = copy, *end = copy + len;
        while (line < end) {
            char *nl = memchr(line, '\n', (size_t)(end - line)), *colon;
            size_t ln = nl ? (size_t)(nl - line) : (size_t)(end - line);
            while (ln > 0 && (line[ln - 1] == '\r' || line[ln - 1] == '\n')) ln--;
            colon = memchr(line, ':', ln);
            if (colon && colon > line) {
                char *v = colon + 1, *c;
                for (c = line; c < colon; c++) *c = (char)tolower((unsigned char)*c);
                while (v < line + ln && (*v == ' ' || *v == '\t')) v++;
                lua_pushlstring(L, line, (size_t)(colon - line));
                lua_pushvalue(L, -1);
                lua_rawget(L, t);
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    lua_pushlstring(L, v, (size_t)(line + ln - v));
                } else {
                    lua_pushliteral(L, ", ");
                    lua_pushlstring(L, v, (size_t)(line + ln - v));
                    lua_concat(L, 3);
                }
                lua_rawset(L, t);
            }
            line = nl ? nl + 1 : end;
        }
    }
    lua_pushvalue(L, t);
    lua_setfield(L, 1, "headers");
    return 1;
}

/* Did the answer's headers pass a limit? Ours (HEADER_MAX over all lines, counted by
 * request_header), or libcurl's own on one line (100 KiB), which libcurl 7.x reports as out of
 * memory before any of the body came, and later versions as an error naming the header. */
static int request_head_too_large(request *r, CURLcode code)
{
    if (r->head_too_large) return 1;
    if (code == CURLE_OUT_OF_MEMORY && r->body.len == 0) return 1;
#if CURL_AT_LEAST_VERSION(8, 6, 0)
    if (code == CURLE_TOO_LARGE) return 1;
#endif
    if (code != CURLE_OUT_OF_MEMORY && code != CURLE_RECV_ERROR &&
        code != CURLE_WEIRD_SERVER_REPLY)
        return 0;
    return strstr(r->errbuf, "header") != NULL || strstr(r->errbuf, "Header") != NULL;
}

/* What session_build_result needs, handed through lua_pcall as a light userdata. */
typedef struct finish_args {
    session *s;
    request *r;
    CURLcode code;
} finish_args;

/* Pushes the result table of a finished request (the request is freed by the caller). May
 * raise (out of memory, or a bug): session_collect runs it under lua_pcall. */
static void session_build_result(lua_State *L, session *s, request *r, CURLcode code, int decode)
{
    long status = 0;
    char *ctype = NULL;
    int res;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ctype);
    lua_createtable(L, 0, 6);
    res = lua_gettop(L);
    lua_pushinteger(L, r->id);
    lua_setfield(L, res, "id");
    /* the response's header lines as received (the secret masked, should the server echo
     * it); `headers` is made from them when first read */
    if (r->head.len > 0) errors_push_redacted(L, r->head.data, r->head.len, &s->redact);
    else lua_pushliteral(L, "");
    lua_setfield(L, res, "raw_headers");
    luaL_setmetatable(L, RESULT_MT);
    errors_push_redacted(L, r->url, strlen(r->url), &s->redact);
    lua_setfield(L, res, "url");

    if (r->too_large || code == CURLE_FILESIZE_EXCEEDED || request_head_too_large(r, code)) {
        int head = !r->too_large && code != CURLE_FILESIZE_EXCEEDED;
        lua_createtable(L, 0, 6);
        lua_pushliteral(L, "too_large");
        lua_setfield(L, -2, "kind");
        if (head && r->head_too_large)
            lua_pushfstring(L, "the response headers are larger than the %d-byte limit",
                            (int)HEADER_MAX);
        else if (head)
            lua_pushliteral(L, "a response header line is larger than libcurl accepts (100 KiB)");
        else
            lua_pushfstring(L, "the response is larger than the %d-byte cap (max_size)",
                            (int)(s->max_size > 0x7fffffff ? 0x7fffffff : s->max_size));
        lua_setfield(L, -2, "message");
        lua_pushstring(L, head ? "Response headers too large" : "Response too large");
        lua_setfield(L, -2, "title");
        if (status) {
            lua_pushinteger(L, status);
            lua_setfield(L, -2, "status");
        }
    } else if (code != CURLE_OK) {
        curl_off_t connected = 0;
        curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connected);
        errors_push_transport(L, code, r->errbuf, connected == 0);
        errors_scrub(L, -1, &s->redact);
    } else if (status >= 400) {
        errors_push_http(L, decode, s->platform, status, r->body.data, r->body.len, ctype,
                         &s->redact);
    } else if (status >= 300) {
        char loc[2048];
        errors_push_redirect(L, status, response_header(r, "location", loc, sizeof loc),
                             &s->redact);
    } else {
        lua_pushinteger(L, status);
        lua_setfield(L, res, "status");
        lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.len);
        lua_setfield(L, res, "body");
        lua_pushnil(L);
    }
    if (!lua_isnil(L, -1)) {
        int err = lua_gettop(L);
        lua_pushstring(L, r->method);
        lua_setfield(L, err, "method");
        lua_getfield(L, res, "url");
        lua_setfield(L, err, "url");
        lua_pushinteger(L, r->attempts);
        lua_setfield(L, err, "attempts");
        lua_getfield(L, err, "platform");
        if (lua_isnil(L, -1)) {
            lua_pushstring(L, s->platform == PLATFORM_QUESTIONPRO ? "questionpro" : "prolific");
            lua_setfield(L, err, "platform");
        }
        lua_pop(L, 1);
        {
            char buf[256];
            double d = response_header(r, "retry-after", buf, sizeof buf)
                ? errors_retry_after(buf) : -1;
            if (d >= 0) {
                /* an integer when it is one (as the header usually says), else the float */
                if (d == (double)(long long)d && d < 9007199254740992.0)
                    lua_pushinteger(L, (lua_Integer)(long long)d);
                else
                    lua_pushnumber(L, d);
                lua_setfield(L, err, "retry_after");
            }
        }
        lua_setfield(L, res, "err");
    } else {
        lua_pop(L, 1);
    }
}

/* lua_pcall'd: (finish_args light userdata, decode function) -> result table */
static int session_build_result_p(lua_State *L)
{
    finish_args *a = (finish_args *)lua_touserdata(L, 1);
    session_build_result(L, a->s, a->r, a->code, 2);
    return 1;
}

/* Pushes the result table of a finished request and frees the request. Whatever happens while
 * the result is made (an error body of a shape nobody foresaw, memory running out), the
 * request ends here with a result: its error says what went wrong. */
static void session_finish(lua_State *L, session *s, request *r, CURLcode code, int decode)
{
    finish_args a;
    a.s = s;
    a.r = r;
    a.code = code;
    decode = lua_absindex(L, decode);
    lua_pushcfunction(L, session_build_result_p);
    lua_pushlightuserdata(L, &a);
    lua_pushvalue(L, decode);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        size_t n;
        const char *m = lua_tolstring(L, -1, &n);
        long status = 0;
        int res, err;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        lua_createtable(L, 0, 3);
        res = lua_gettop(L);
        lua_pushinteger(L, r->id);
        lua_setfield(L, res, "id");
        errors_push_redacted(L, r->url, strlen(r->url), &s->redact);
        lua_setfield(L, res, "url");
        lua_createtable(L, 0, 8);
        err = lua_gettop(L);
        lua_pushliteral(L, "decode");
        lua_setfield(L, err, "kind");
        lua_pushliteral(L, "Unreadable answer");
        lua_setfield(L, err, "title");
        lua_pushliteral(L, "cohort could not read the server's answer: ");
        if (m) errors_push_redacted(L, m, n, &s->redact);
        else lua_pushliteral(L, "(no message)");
        lua_concat(L, 2);
        lua_setfield(L, err, "message");
        if (status) {
            lua_pushinteger(L, status);
            lua_setfield(L, err, "status");
        }
        lua_pushstring(L, r->method);
        lua_setfield(L, err, "method");
        lua_getfield(L, res, "url");
        lua_setfield(L, err, "url");
        lua_pushinteger(L, r->attempts);
        lua_setfield(L, err, "attempts");
        lua_pushstring(L, s->platform == PLATFORM_QUESTIONPRO ? "questionpro" : "prolific");
        lua_setfield(L, err, "platform");
        lua_setfield(L, res, "err");
        lua_remove(L, res - 1); /* the message of the error caught */
    }
    request_unlink(s, r);
    request_free(s, r);
}

/* ---- retries ---- */

/* A uniform number in [0, 1) from the session's xorshift64* generator. */
static double session_random(session *s)
{
    unsigned long long x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Decides whether a finished attempt is retried; if so parks the request (off the multi
 * handle) until its back-off has passed and returns 1. Retried: 429, 502, 503, 504, refused,
 * reset, empty or truncated answers and time-outs — of requests that are safe to repeat, within
 * the attempts and the time budget. The wait is Retry-After when the server gives a readable
 * one, else exponential back-off with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))].
 * A Retry-After above RETRY_AFTER_MAX, or one that would end after the time budget, is not
 * waited for: the request ends with the error, and err.retry_after says when to come back.
 * A request not safe to repeat is still retried after a refused connection or a 429. */
static int session_retry(session *s, request *r, CURLcode code)
{
    double delay = -1, cap, now;
    int i;
    if (r->attempts >= r->max_attempts || r->too_large || request_head_too_large(r, code))
        return 0;
    if (!r->idempotent) {
        /* Not safe to repeat in general; but a refused connection never reached the server,
         * and a 429 is a refusal before any work: those two are retried for any method. */
        long st = 0;
        if (code == CURLE_OK) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
        if (code != CURLE_COULDNT_CONNECT && st != 429) return 0;
    }
    if (code != CURLE_OK) {
        switch (code) {
        case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
            break;
        default:
            return 0;
        }
    } else {
        long status = 0;
        char buf[256];
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status != 429 && status != 502 && status != 503 && status != 504) return 0;
        if (response_header(r, "retry-after", buf, sizeof buf)) {
            delay = errors_retry_after(buf);
            if (delay > RETRY_AFTER_MAX) return 0;
        }
    }
    if (delay < 0) {
        cap = s->retry_base;
        for (i = 1; i < r->attempts && cap < s->retry_cap; i++) cap *= 2;
        if (cap > s->retry_cap) cap = s->retry_cap;
        delay = session_random(s) * cap;
    }
    now = core_now();
    if (now + delay > r->deadline) return 0; /* the caller gets the error, with retry_after */
    curl_multi_remove_handle(s->multi, r->easy);
    r->body.len = 0;
    r->head.len = 0;
    r->errbuf[0] = '\0';
    r->parked = 1;
    r->due = now + delay;
    r->attempts++;
    s->n_parked++;
    return 1;
}

/* Puts parked requests whose time has come back on the multi handle. Returns the seconds until
 * the next one is due, or -1 when none is parked. */
static double session_wake(session *s)
{
    double now, next = -1;
    request *r;
    if (s->n_parked == 0) return -1;
    now = core_now();
    for (r = s->inflight; r; r = r->next) {
        if (!r->parked) continue;
        if (r->due <= now) {
            if (curl_multi_add_handle(s->multi, r->easy) == CURLM_OK) {
                r->parked = 0;
                s->n_parked--;
            }
        } else if (next < 0 || r->due - now < next) {
            next = r->due - now;
        }
    }
    return next;
}

/* Waits on the multi handle for at most ms, less if a parked request falls due sooner. */
static void session_poll(session *s, long ms, double next_due)
{
    if (next_due >= 0 && next_due * 1000.0 < (double)ms) ms = (long)(next_due * 1000.0) + 1;
    if (ms > 0) curl_multi_poll(s->multi, NULL, 0, (int)ms, NULL);
}

/* Appends every finished transfer's result to the array at `out`. */
static void session_collect(lua_State *L, session *s, int out, int decode)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
        request *r = NULL;
        if (msg->msg != CURLMSG_DONE) continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r == NULL) continue;
        if (session_retry(s, r, msg->data.result)) continue;
        session_finish(L, s, r, msg->data.result, decode);
        lua_rawseti(L, out, (lua_Integer)lua_rawlen(L, out) + 1);
    }
}

/* If the array at `stash` holds the result of request id, removes it and pushes it. */
static int session_take(lua_State *L, int stash, lua_Integer id)
{
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, stash);
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, stash, i);
        lua_getfield(L, -1, "id");
        if (lua_tointeger(L, -1) == id) {
            lua_pop(L, 1);
            for (; i < n; i++) { /* close the gap, keeping the order */
                lua_rawgeti(L, stash, i + 1);
                lua_rawseti(L, stash, i);
            }
            lua_pushnil(L);
            lua_rawseti(L, stash, n);
            return 1;
        }
        lua_pop(L, 2);
    }
    return 0;
}

/* s:step([timeout_ms]) -> array of results (possibly empty). Waits at most timeout_ms when
 * nothing has finished yet; 0 (the default) never blocks. */
static int session_step(lua_State *L)
{
    session *s = session_check(L, 1);
    lua_Integer wait = luaL_optinteger(L, 2, 0);
    int running = 0, out;
    double next_due;
    lua_settop(L, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->stash_ref); /* 3: stash becomes the answer */
    out = 3;
    lua_newtable(L);
    lua_rawseti(L, LUA_REGISTRYINDEX, s->stash_ref);
    session_wake(s);
    curl_multi_perform(s->multi, &running);
    session_collect(L, s, out, lua_upvalueindex(1));
    if (lua_rawlen(L, out) == 0 && wait > 0 && s->n_inflight > 0) {
        next_due = session_wake(s);
        session_poll(s, (long)(wait > 60000 ? 60000 : wait), next_due);
        session_wake(s);
        curl_multi_perform(s->multi, &running);
        session_collect(L, s, out, lua_upvalueindex(1));
    }
    lua_settop(L, out);
    return 1;
}

/* Blocks until request id is done and pushes its result; others wait in the stash. */
static int session_await(lua_State *L, session *s, lua_Integer id)
{
    int running = 0, stash;
    request *r;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->stash_ref);
    stash = lua_gettop(L);
    if (session_take(L, stash, id)) return 1;
    for (r = s->inflight; r && r->id != id; r = r->next) {}
    if (r == NULL) return luaL_error(L, "cohort.core: no request %d in flight", (int)id);
    for (;;) {
        session_wake(s);
        curl_multi_perform(s->multi, &running);
        session_collect(L, s, stash, lua_upvalueindex(1));
        if (session_take(L, stash, id)) return 1;
        /* after collecting: a request parked just now must bound the wait */
        session_poll(s, 1000, session_wake(s));
    }
}

/* s:request(req) -> result: submit, then wait for that one. */
static int session_request(lua_State *L)
{
    session *s = session_check(L, 1);
    lua_Integer id;
    lua_settop(L, 2);
    session_submit(L);
    id = lua_tointeger(L, -1);
    lua_settop(L, 2);
    return session_await(L, s, id);
}

/* s:wait(id) -> result */
static int session_wait(lua_State *L)
{
    session *s = session_check(L, 1);
    return session_await(L, s, luaL_checkinteger(L, 2));
}

/* s:cancel(id) -> true if it was in flight */
static int session_cancel(lua_State *L)
{
    session *s = session_check(L, 1);
    lua_Integer id = luaL_checkinteger(L, 2);
    request *r;
    for (r = s->inflight; r && r->id != id; r = r->next) {}
    if (r) {
        request_unlink(s, r);
        request_free(s, r);
    }
    lua_pushboolean(L, r != NULL);
    return 1;
}

/* s:pending() -> number of transfers in flight */
static int session_pending(lua_State *L)
{
    session *s = session_check(L, 1);
    lua_pushinteger(L, s->n_inflight);
    return 1;
}

/* s:not_json(status, body [, content_type [, reason]]) -> error table of kind "decode" for a
 * 2xx answer that is not the JSON due: the content type, the HTML page's title or the text's
 * first words, the decoder's reason; the session's secret masked. Only error paths call it. */
static int session_not_json(lua_State *L)
{
    session *s = session_check(L, 1);
    long status = (long)luaL_checkinteger(L, 2);
    size_t n;
    const char *body = luaL_checklstring(L, 3, &n);
    const char *ctype = luaL_optstring(L, 4, NULL);
    const char *reason = luaL_optstring(L, 5, NULL);
    errors_push_not_json(L, status, body, n, ctype, reason, &s->redact);
    return 1;
}

static int session_tostring(lua_State *L)
{
    session *s = (session *)luaL_checkudata(L, 1, SESSION_MT);
    if (s->closed) lua_pushliteral(L, "cohort.Session (closed)");
    else lua_pushfstring(L, "cohort.Session (%d in flight)", s->n_inflight);
    return 1;
}

static const luaL_Reg session_methods[] = {
    {"submit", session_submit},
    {"step", session_step},
    {"wait", session_wait},
    {"cancel", session_cancel},
    {"pending", session_pending},
    {"close", session_close},
    {"request", session_request},
    {"not_json", session_not_json},
    {NULL, NULL},
};

static const luaL_Reg session_meta[] = {
    {"__gc", session_close},
    {"__close", session_close},
    {"__tostring", session_tostring},
    {NULL, NULL},
};

/* With the private cjson decode function on top: creates the metatable and module functions. */
int session_open(lua_State *L)
{
    int decode = lua_gettop(L);
    luaL_newmetatable(L, SESSION_MT);
    lua_pushvalue(L, decode);
    luaL_setfuncs(L, session_meta, 1);
    lua_newtable(L);
    lua_pushvalue(L, decode);
    luaL_setfuncs(L, session_methods, 1);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, SESSION_MT);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
    luaL_newmetatable(L, RESULT_MT);
    lua_pushcfunction(L, result_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushvalue(L, decode);
    lua_pushcclosure(L, session_new, 1);
    return 1;
}
