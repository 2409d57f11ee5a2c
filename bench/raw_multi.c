/* raw_multi.c — the physical limit for the concurrent case: libcurl's multi interface used
 * directly. C easy handles kept busy (at most C connections), N GETs of
 * /api/v1/submissions/<id>/ in all; each finished handle is given the next URL at once.
 *
 *   raw_multi BASE_URL IDS_FILE N C TOKEN [cjson]  ->  prints the seconds the N calls took
 *
 * With "cjson" (built with -DWITH_LUA) every body is also turned into a Lua table by lua-cjson
 * in an embedded Lua state and dropped: the floor of any Lua client that returns tables, with
 * no library around it. Without it nothing is decoded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "raw_common.h"
static lua_State *L; /* with "cjson": cjson.decode at index 1 */

typedef struct { buf b; char url[512]; CURL *e; } slot;

static const char *base;
static char **ids;
static int nids;

static void start(CURLM *m, slot *s, int i)
{
    snprintf(s->url, sizeof s->url, "%s/api/v1/submissions/%s/", base, ids[i % nids]);
    curl_easy_setopt(s->e, CURLOPT_URL, s->url);
    s->b.len = 0;
    curl_multi_add_handle(m, s->e);
}

/* Runs n calls with at most c in flight; returns 0 on success. */
static int run(CURLM *m, slot *slots, int c, int n)
{
    int issued = 0, done = 0, running = 0, i, left;
    for (i = 0; i < c && issued < n; i++) start(m, &slots[i], issued++);
    while (done < n) {
        CURLMsg *msg;
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            slot *s;
            long status = 0;
            if (msg->msg != CURLMSG_DONE) continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result != CURLE_OK || status != 200 || s->b.len == 0) {
                fprintf(stderr, "raw_multi: call failed (%d, status %ld)\n", msg->data.result, status);
                return 1;
            }
            if (L && !raw_cjson_decode(L, s->b.data, s->b.len)) {
                fprintf(stderr, "raw_multi: not a JSON object\n");
                return 1;
            }
            curl_multi_remove_handle(m, s->e);
            done++;
            if (issued < n) start(m, s, issued++);
        }
        if (done < n) curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int n, c, i;
    char auth[256];
    CURLM *m;
    slot *slots;
    struct curl_slist *h = NULL;
    double t0;
    if (argc != 6 && !(argc == 7 && strcmp(argv[6], "cjson") == 0)) {
        fprintf(stderr, "usage: raw_multi BASE IDS N C TOKEN [cjson]\n");
        return 2;
    }
    if (argc == 7) {
        L = raw_cjson_open("raw_multi");
    }
    base = argv[1];
    ids = read_ids(argv[2], &nids);
    n = atoi(argv[3]);
    c = atoi(argv[4]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c);
    snprintf(auth, sizeof auth, "Authorization: Token %s", argv[5]);
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, auth);
    slots = calloc((size_t)c, sizeof *slots);
    for (i = 0; i < c; i++) {
        CURL *e = curl_easy_init();
        slots[i].e = e;
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "raw_multi libcurl");
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &slots[i].b);
        curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)&slots[i]);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    }
    if (run(m, slots, c, c)) return 1; /* warm-up: open the c connections */
    t0 = now();
    if (run(m, slots, c, n)) return 1;
    printf("%.6f\n", now() - t0);
    for (i = 0; i < c; i++) curl_easy_cleanup(slots[i].e);
    curl_multi_cleanup(m);
    curl_slist_free_all(h);
    return 0;
}
