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
/* The shortest secret accepted: a shorter one could not be masked without also masking
 * ordinary words of the messages it is searched for in. */
#define SECRET_MIN 8
/* The longest Retry-After honoured, in seconds. A longer one is not waited for: the request
 * ends with the error, and err.retry_after tells the caller when the server wants it back. */
#define RETRY_AFTER_MAX 120.0
/* The most response header bytes accepted (all lines of one response together). */
#define HEADER_MAX (256 * 1024)

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
    int too_large;         /* the body passed max_size */
    int head_too_large;    /* the header lines passed HEADER_MAX */
    int attempts, max_attempts, idempotent;
    int parked;            /* waiting for its retry: not on the multi handle */
    double due;            /* when parked: monotonic time of the next attempt */
    double deadline;       /* no retry may start after this (monotonic seconds) */
    char errbuf[CURL_ERROR_SIZE];
} request;

/* What redaction looks for: the secret as given, and its percent-encoded form when that
 * differs (a secret put into a query value is sent encoded). */
typedef struct secrets {
    const char *v[2];
    size_t n[2];
} secrets;

typedef struct session {
    CURLM *multi;
    CURLSH *share;
    char *secret;
    char *secret_enc;      /* percent-encoded secret, or NULL when the same */
    secrets redact;        /* points into secret and secret_enc */
    int auth, platform;
    long connect_timeout_ms, timeout_ms;
    char *ca_file;
    size_t max_size;
    request *inflight;
    int n_inflight;
    lua_Integer next_id;
    int stash_ref;          /* registry ref: results finished while waiting for another */
    int max_attempts;       /* attempts in all for a retryable failure: retries + 1 */
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
COHORT_HIDDEN char *url_encode_dup(const char *s, size_t n);
COHORT_HIDDEN int url_same_origin(const char *a, const char *b);
COHORT_HIDDEN int url_lbuild(lua_State *L);
COHORT_HIDDEN int url_lis_id(lua_State *L);

/* core_errors.c */
COHORT_HIDDEN int errors_has_secret(const char *s, size_t n, const secrets *sec);
COHORT_HIDDEN void errors_push_redacted(lua_State *L, const char *s, size_t n, const secrets *sec);
COHORT_HIDDEN void errors_scrub(lua_State *L, int idx, const secrets *sec);
COHORT_HIDDEN void errors_push_http(lua_State *L, int decode, int platform, long status,
                                    const char *body, size_t n, const char *ctype,
                                    const secrets *sec);
COHORT_HIDDEN void errors_push_not_json(lua_State *L, long status, const char *body, size_t n,
                                        const char *ctype, const char *reason,
                                        const secrets *sec);
COHORT_HIDDEN void errors_push_redirect(lua_State *L, long status, const char *location,
                                        const secrets *sec);
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
