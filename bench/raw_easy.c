/* raw_easy.c — the physical limit for the sequential case: libcurl's easy interface used
 * directly. One easy handle (so one kept-alive connection), N GETs of /api/v1/submissions/<id>/,
 * the body collected in a buffer and the status checked; nothing is decoded.
 *
 *   raw_easy BASE_URL IDS_FILE N TOKEN [cjson]  ->  prints the seconds the N calls took
 *
 * With "cjson" (built with -DWITH_LUA) every body is also turned into a Lua table by lua-cjson
 * in an embedded Lua state: the floor of any Lua client that returns tables.
 *
 * The request carries the same headers as cohort's (Accept, Authorization, User-Agent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "raw_common.h"


int main(int argc, char **argv)
{
    int nids, n, i;
    char **ids, url[512], auth[256];
    CURL *e;
    buf b = {0};
    struct curl_slist *h = NULL;
    long status = 0;
    double t0;
    lua_State *L = NULL; /* with "cjson": cjson.decode at index 1 */
    if (argc != 5 && !(argc == 6 && strcmp(argv[5], "cjson") == 0)) {
        fprintf(stderr, "usage: raw_easy BASE IDS N TOKEN [cjson]\n");
        return 2;
    }
    if (argc == 6) {
        L = raw_cjson_open("raw_easy");
    }
    ids = read_ids(argv[2], &nids);
    n = atoi(argv[3]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    e = curl_easy_init();
    snprintf(auth, sizeof auth, "Authorization: Token %s", argv[4]);
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, auth);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "raw_easy libcurl");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    t0 = 0;
    for (i = -1; i < n; i++) { /* i == -1: the warm-up call that opens the connection */
        if (i == 0) t0 = now();
        snprintf(url, sizeof url, "%s/api/v1/submissions/%s/", argv[1], ids[(i < 0 ? 0 : i) % nids]);
        curl_easy_setopt(e, CURLOPT_URL, url);
        b.len = 0;
        if (curl_easy_perform(e) != CURLE_OK) { fprintf(stderr, "raw_easy: transfer failed\n"); return 1; }
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200 || b.len == 0) { fprintf(stderr, "raw_easy: status %ld\n", status); return 1; }
        if (L && !raw_cjson_decode(L, b.data, b.len)) {
            fprintf(stderr, "raw_easy: not a JSON object\n");
            return 1;
        }
    }
    printf("%.6f\n", now() - t0);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    return 0;
}
