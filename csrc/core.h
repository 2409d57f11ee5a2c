/* core.h — shared declarations of the units of cohort.core.
 * Only luaopen_cohort_core is exported from the shared object; the rest is hidden. */
#ifndef COHORT_CORE_H
#define COHORT_CORE_H

#include <stddef.h>
#include <curl/curl.h>
#include "compat.h"

#define COHORT_VERSION "0.1.0"
#define COHORT_HIDDEN __attribute__((visibility("hidden")))

#define SESSION_MT "cohort.Session"
#define RESULT_MT "cohort.Result"
#define SESSION_POOL 16
#define SECRET_MASK "***"

enum { AUTH_NONE, AUTH_TOKEN, AUTH_APIKEY, AUTH_QUERY };
enum { PLATFORM_PROLIFIC, PLATFORM_QUESTIONPRO, PLATFORM_OTHER };

/* A growable byte buffer that libcurl callbacks fill; never touches Lua. */
typedef struct cbuf {
    char *data;
    size_t len, cap;
} cbuf;

typedef struct request {
    struct request *next, *prev;
    lua_Integer id;
    CURL *easy;
    struct curl_slist *headers;
    char *url;      /* the real URL (may carry a legacy apiKey) */
    char *method;
    cbuf body;      /* response body */
    cbuf head;      /* raw response header lines of the last response */
    size_t max_size;
    int too_large;
    int attempts, max_attempts, idempotent;
    int parked;            /* waiting for its retry: not on the multi handle */
    double due;            /* when parked: monotonic time of the next attempt */
    double deadline;       /* no retry may start after this (monotonic seconds) */
    char errbuf[CURL_ERROR_SIZE];
} request;

typedef struct session {
    CURLM *multi;
    CURLSH *share;
    char *secret;
    int auth, platform;
    long connect_timeout_ms, timeout_ms;
    char *ca_file;
    size_t max_size;
    request *inflight;
    int n_inflight;
    lua_Integer next_id;
    int stash_ref;          /* registry ref: results finished while waiting for another */
    int max_attempts;       /* attempts in all for a retryable failure (1: no retry) */
    double retry_base, retry_cap, retry_budget; /* seconds */
    unsigned long long rng; /* xorshift state for the back-off jitter */
    int n_parked;
    char user_agent[128];   /* "cohort/<version> libcurl/<version>", built once */
    /* the request headers of a request without headers of its own, built once: Accept and
     * the credentials; with a body also Content-Type and an empty Expect */
    struct curl_slist *hdr_plain, *hdr_body;
    int closed;
    CURL *pool[SESSION_POOL];
    int npool;
} session;

/* core_buf.c */
COHORT_HIDDEN int cbuf_append(cbuf *b, const char *p, size_t n);
COHORT_HIDDEN void cbuf_free(cbuf *b);

/* core_url.c */
COHORT_HIDDEN void url_build(lua_State *L, int req, const char *secret_query);
COHORT_HIDDEN int url_same_origin(const char *a, const char *b);
COHORT_HIDDEN int url_lbuild(lua_State *L);
COHORT_HIDDEN int url_lis_id(lua_State *L);

/* core_errors.c */
COHORT_HIDDEN void errors_push_redacted(lua_State *L, const char *s, size_t n, const char *secret);
COHORT_HIDDEN void errors_push_http(lua_State *L, int decode, int platform, long status,
                                    const char *body, size_t n, const char *ctype,
                                    const char *secret);
COHORT_HIDDEN void errors_push_transport(lua_State *L, CURLcode code, const char *errbuf,
                                         int timed_out_connecting);
COHORT_HIDDEN double errors_retry_after(const char *value);
COHORT_HIDDEN int errors_ldecode(lua_State *L);
COHORT_HIDDEN int errors_lretry_after(lua_State *L);
COHORT_HIDDEN int errors_platform(const char *name);

/* core.c */

/* core_json.c: core.decode(text) -> value; also the decode function of session_open and
 * errors_ldecode (called with the text as its only argument; one result, or raises) */
COHORT_HIDDEN int json_ldecode(lua_State *L);

COHORT_HIDDEN double core_now(void);

/* core_hmac.c */
COHORT_HIDDEN int hmac_lsha256(lua_State *L);
COHORT_HIDDEN int hmac_lbase64(lua_State *L);
COHORT_HIDDEN int hmac_lequal(lua_State *L);

/* core_store.c: core.store_open (an SQLite file held by one process at a time) */
COHORT_HIDDEN int store_lopen_entry(lua_State *L);

/* core_session.c */
COHORT_HIDDEN int session_open(lua_State *L);

#endif
