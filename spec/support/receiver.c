/* receiver — a webhook receiver on 127.0.0.1 for the delivery specs: it records every request
 * it gets, byte for byte, and answers as the request's path tells it to.
 *
 *   receiver DIR [LIFETIME]      prints "PORT PID" on one line, then serves until killed or
 *                                for at most LIFETIME seconds (default 120)
 *
 * Each complete request (head and Content-Length body) is written to DIR/NNNNNN.http (NNNNNN
 * counts from 000001), whole: it is written under a temporary name and renamed, so a reader
 * never sees half a request. Then the path decides the answer:
 *
 *   /seq/A,B,C...   the n-th request to this exact path does item n (the last one repeats)
 *   /status/NNN     the same as /seq/NNN
 *   /drop, /hang, /slow/MS   the same as /seq/drop, /seq/hang, /seq/slowMS
 *   anything else   200
 *
 * where an item is a status code (200..599), "drop" (close the connection without an answer),
 * "hang" (never answer; the connection stays open until the client gives up) or "slowMS"
 * (answer 200 after MS milliseconds). One thread and poll(): a hanging or slow connection never
 * holds up the others. Every answer closes its connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 256
#define MAX_REQ (1024 * 1024)
#define MAX_PATHS 256

enum { READING, WAITING, HANGING };

typedef struct {
    int fd, state;
    char *buf;
    size_t len, cap;
    double answer_at; /* WAITING: when to answer 200 */
} conn;

typedef struct {
    char path[512];
    int count;
} path_count;

static conn conns[MAX_CONN];
static path_count paths[MAX_PATHS];
static int npaths = 0, seq = 0;
static const char *dir;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void conn_close(conn *c)
{
    if (c->fd >= 0) close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static void answer(conn *c, int status)
{
    char out[256];
    const char *reason = status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                     "Connection: close\r\n\r\nok", status, reason);
    ssize_t w = write(c->fd, out, (size_t)n);
    (void)w;
    conn_close(c);
}

/* The n-th (from 1) item of a comma-separated list, or the last one. */
static void nth_item(const char *list, int n, char *out, size_t size)
{
    const char *p = list;
    int i = 1;
    while (i < n) {
        const char *comma = strchr(p, ',');
        if (comma == NULL) break;
        p = comma + 1;
        i++;
    }
    {
        size_t k = strcspn(p, ",");
        if (k >= size) k = size - 1;
        memcpy(out, p, k);
        out[k] = '\0';
    }
}

static int path_hit(const char *path)
{
    int i;
    for (i = 0; i < npaths; i++)
        if (strcmp(paths[i].path, path) == 0) return ++paths[i].count;
    if (npaths < MAX_PATHS) {
        snprintf(paths[npaths].path, sizeof paths[npaths].path, "%s", path);
        paths[npaths].count = 1;
        npaths++;
    }
    return 1;
}

static void record(const char *data, size_t n)
{
    char tmp[4096], name[4096];
    FILE *f;
    seq++;
    snprintf(tmp, sizeof tmp, "%s/.%06d.tmp", dir, seq);
    snprintf(name, sizeof name, "%s/%06d.http", dir, seq);
    f = fopen(tmp, "wb");
    if (f == NULL) return;
    fwrite(data, 1, n, f);
    fclose(f);
    rename(tmp, name);
}

/* A complete request is in c->buf: record it, then act on its path. */
static void handle(conn *c)
{
    char path[512] = "/", item[64];
    const char *sp = memchr(c->buf, ' ', c->len), *list = NULL;
    int n;
    record(c->buf, c->len);
    if (sp) {
        size_t k = strcspn(sp + 1, " ?\r\n");
        if (k >= sizeof path) k = sizeof path - 1;
        memcpy(path, sp + 1, k);
        path[k] = '\0';
    }
    n = path_hit(path);
    if (strncmp(path, "/seq/", 5) == 0) list = path + 5;
    else if (strncmp(path, "/status/", 8) == 0) list = path + 8;
    if (list) nth_item(list, n, item, sizeof item);
    else if (strcmp(path, "/drop") == 0) strcpy(item, "drop");
    else if (strcmp(path, "/hang") == 0) strcpy(item, "hang");
    else if (strncmp(path, "/slow/", 6) == 0) snprintf(item, sizeof item, "slow%d", atoi(path + 6));
    else strcpy(item, "200");

    if (strcmp(item, "drop") == 0) {
        conn_close(c);
    } else if (strcmp(item, "hang") == 0) {
        c->state = HANGING;
    } else if (strncmp(item, "slow", 4) == 0) {
        c->state = WAITING;
        c->answer_at = now_s() + atoi(item + 4) / 1000.0;
    } else {
        int st = atoi(item);
        answer(c, st >= 200 && st <= 599 ? st : 200);
    }
}

/* Is the request in c->buf complete? Head up to CRLFCRLF, then Content-Length bytes. */
static int complete(conn *c)
{
    const char *end = NULL, *p;
    size_t head, body = 0, i;
    for (i = 0; i + 3 < c->len; i++)
        if (memcmp(c->buf + i, "\r\n\r\n", 4) == 0) { end = c->buf + i + 4; break; }
    if (end == NULL) return 0;
    head = (size_t)(end - c->buf);
    for (p = c->buf; p < end; ) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) break;
        if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0)
            body = (size_t)strtoul(p + 15, NULL, 10);
        p = eol + 1;
    }
    return c->len >= head + body;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int s, i, one = 1, lifetime;
    double deadline;
    if (argc < 2) {
        fprintf(stderr, "usage: receiver DIR [LIFETIME]\n");
        return 2;
    }
    dir = argv[1];
    lifetime = argc > 2 ? atoi(argv[2]) : 120;
    if (lifetime <= 0) lifetime = 120;
    signal(SIGPIPE, SIG_IGN);
    for (i = 0; i < MAX_CONN; i++) conns[i].fd = -1;
    s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = 0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0) return 1;
    if (getsockname(s, (struct sockaddr *)&a, &alen) != 0) return 1;
    fcntl(s, F_SETFL, O_NONBLOCK);
    printf("%d %d\n", (int)ntohs(a.sin_port), (int)getpid());
    fflush(stdout);
    deadline = now_s() + lifetime;

    while (now_s() < deadline) {
        struct pollfd pf[MAX_CONN + 1];
        int map[MAX_CONN + 1], np = 0, timeout = 100;
        double t = now_s();
        pf[np].fd = s;
        pf[np].events = POLLIN;
        map[np++] = -1;
        for (i = 0; i < MAX_CONN; i++) {
            conn *c = &conns[i];
            if (c->fd < 0) continue;
            if (c->state == WAITING) {
                int ms = (int)((c->answer_at - t) * 1000.0) + 1;
                if (ms < timeout) timeout = ms < 0 ? 0 : ms;
            }
            pf[np].fd = c->fd;
            pf[np].events = POLLIN;
            map[np++] = i;
        }
        if (poll(pf, (nfds_t)np, timeout) < 0 && errno != EINTR) return 1;
        if (pf[0].revents & POLLIN) {
            for (;;) {
                int fd = accept(s, NULL, NULL);
                if (fd < 0) break;
                for (i = 0; i < MAX_CONN && conns[i].fd >= 0; i++) {}
                if (i == MAX_CONN) { close(fd); continue; }
                conns[i].fd = fd;
                conns[i].state = READING;
            }
        }
        for (i = 1; i < np; i++) {
            conn *c = &conns[map[i]];
            char tmp[65536];
            ssize_t r;
            if (c->fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            r = read(c->fd, tmp, sizeof tmp);
            if (r <= 0) { conn_close(c); continue; } /* the client went away */
            if (c->state != READING) continue;       /* more bytes after a request: ignored */
            if (c->len + (size_t)r > MAX_REQ) { conn_close(c); continue; }
            if (c->len + (size_t)r > c->cap) {
                size_t cap = (c->len + (size_t)r) * 2;
                char *nb = realloc(c->buf, cap);
                if (nb == NULL) { conn_close(c); continue; }
                c->buf = nb;
                c->cap = cap;
            }
            memcpy(c->buf + c->len, tmp, (size_t)r);
            c->len += (size_t)r;
            if (complete(c)) handle(c);
        }
        t = now_s();
        for (i = 0; i < MAX_CONN; i++)
            if (conns[i].fd >= 0 && conns[i].state == WAITING && conns[i].answer_at <= t)
                answer(&conns[i], 200);
    }
    return 0;
}
