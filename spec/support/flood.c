/*
 * flood — hold many TCP connections against a server, or time requests made beside them.
 * Used by spec/sandbox_server_spec.lua and bench/server.lua (built into build/flood).
 *
 *   flood HOST PORT N idle [GIVE_UP_S]
 *       opens N connections and sends nothing
 *   flood HOST PORT N slow [GIVE_UP_S]
 *       opens N connections and sends each one byte of a request header every second,
 *       never finishing it
 *     Both print "held K failed F" once every connection is open (K still open, F that could
 *     not connect), then wait for the server to close them, and print "cut K" and exit 0 once
 *     it has closed all of them, or "open K" and exit 1 after GIVE_UP_S seconds (default 60).
 *     SIGTERM ends it at once.
 *
 *   flood HOST PORT COUNT probe PATH [TOKEN]
 *       makes COUNT requests GET PATH one after the other, each on a new connection
 *       (Authorization: Token TOKEN when given), and prints
 *       "probe COUNT ok K median_ms M p99_ms P max_ms X": K answered 200 in full.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define FLOOD_BATCH 1000 /* connects in flight at once */

static const char SLOW_HEADER[] = "GET /api/v1/users/me/ HTTP/1.1\r\nHost: sandbox\r\nX-Slow: ";

static double flood_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void flood_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int flood_socket(const struct sockaddr_in *addr, int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (nonblock)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Opens n connections (at most FLOOD_BATCH connecting at once). fds[i] = -1 where it failed. */
static void flood_open(const struct sockaddr_in *addr, int *fds, int n)
{
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    int *idx = calloc((size_t)n, sizeof *idx);
    char *connecting = calloc((size_t)n, 1);
    int next = 0, pending = 0, i;
    double give_up = flood_now() + 60;
    if (!pf || !idx || !connecting) {
        fprintf(stderr, "flood: out of memory\n");
        exit(2);
    }
    while (next < n || pending > 0) {
        int np = 0;
        while (next < n && pending < FLOOD_BATCH) {
            fds[next] = flood_socket(addr, 1);
            if (fds[next] >= 0) {
                connecting[next] = 1;
                pending++;
            }
            next++;
        }
        for (i = 0; i < next; i++) {
            if (connecting[i]) {
                pf[np].fd = fds[i];
                pf[np].events = POLLOUT;
                pf[np].revents = 0;
                idx[np++] = i;
            }
        }
        if (flood_now() > give_up) {
            for (i = 0; i < np; i++) {
                close(fds[idx[i]]);
                fds[idx[i]] = -1;
            }
            break;
        }
        if (poll(pf, (nfds_t)np, 1000) <= 0)
            continue;
        for (i = 0; i < np; i++) {
            int k = idx[i], err = 0;
            socklen_t len = sizeof err;
            if (!pf[i].revents)
                continue;
            if (getsockopt(fds[k], SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                close(fds[k]);
                fds[k] = -1;
            }
            connecting[k] = 0;
            pending--;
        }
    }
    free(pf);
    free(idx);
    free(connecting);
}

/* Closed by the peer? (end of stream, reset, or an error) Reads and drops any data. */
static int flood_closed(int fd)
{
    char buf[512];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0)
            continue;
        if (r == 0)
            return 1;
        return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
}

static int flood_hold(const struct sockaddr_in *addr, int n, int slow, double give_up_s)
{
    int *fds = calloc((size_t)n, sizeof *fds);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    int i, open_n = 0, failed = 0, cut = 0;
    size_t sent = 0;
    double give_up, next_byte;
    if (!fds || !pf) {
        fprintf(stderr, "flood: out of memory\n");
        return 2;
    }
    flood_open(addr, fds, n);
    for (i = 0; i < n; i++) {
        if (fds[i] < 0)
            failed++;
        else if (flood_closed(fds[i])) {
            close(fds[i]);
            fds[i] = -1;
            cut++;
        } else
            open_n++;
    }
    printf("held %d failed %d\n", open_n, failed);
    fflush(stdout);
    give_up = flood_now() + give_up_s;
    next_byte = flood_now();
    while (open_n > 0 && flood_now() < give_up) {
        int np = 0, wait_ms = 1000;
        if (slow && flood_now() >= next_byte) {
            /* one more byte of the header on every connection */
            char c = sent < sizeof SLOW_HEADER - 1 ? SLOW_HEADER[sent] : 'a';
            for (i = 0; i < n; i++) {
                if (fds[i] >= 0 && send(fds[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0
                    && errno != EAGAIN && errno != EWOULDBLOCK) {
                    close(fds[i]);
                    fds[i] = -1;
                    open_n--;
                    cut++;
                }
            }
            sent++;
            next_byte += 1.0;
        }
        for (i = 0; i < n; i++) {
            if (fds[i] >= 0) {
                pf[np].fd = fds[i];
                pf[np].events = POLLIN;
                pf[np].revents = 0;
                np++;
            }
        }
        if (slow) {
            wait_ms = (int)((next_byte - flood_now()) * 1000);
            if (wait_ms < 0)
                wait_ms = 0;
        }
        if (np == 0 || poll(pf, (nfds_t)np, wait_ms) <= 0)
            continue;
        {
            int j = 0; /* pf is in the order of the open fds */
            for (i = 0; i < n; i++) {
                if (fds[i] < 0)
                    continue;
                if (pf[j].revents && flood_closed(fds[i])) {
                    close(fds[i]);
                    fds[i] = -1;
                    open_n--;
                    cut++;
                }
                j++;
            }
        }
    }
    if (open_n > 0)
        printf("open %d\n", open_n);
    else
        printf("cut %d\n", cut);
    fflush(stdout);
    for (i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
    free(fds);
    free(pf);
    return open_n > 0;
}

static int flood_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One GET on a new connection; returns 1 when a complete 200 answer came. */
static int flood_probe_one(const struct sockaddr_in *addr, const char *req, size_t reqlen)
{
    char buf[8192];
    size_t got = 0;
    long want = -1;
    int fd = flood_socket(addr, 0), ok = 0;
    if (fd < 0)
        return 0;
    if (send(fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen) {
        close(fd);
        return 0;
    }
    for (;;) {
        struct pollfd pf;
        ssize_t r;
        char *end;
        pf.fd = fd;
        pf.events = POLLIN;
        if (poll(&pf, 1, 30000) <= 0)
            break;
        r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end && want < 0) {
            char *cl = strstr(buf, "Content-Length:");
            if (!cl)
                cl = strstr(buf, "content-length:");
            want = cl && cl < end ? strtol(cl + 15, NULL, 10) : 0;
        }
        if (end && want >= 0 && got >= (size_t)(end + 4 - buf) + (size_t)want) {
            ok = strncmp(buf, "HTTP/1.1 200", 12) == 0;
            break;
        }
        if (got >= sizeof buf - 1)
            break;
    }
    close(fd);
    return ok;
}

static int flood_probe(const struct sockaddr_in *addr, int count, const char *path,
                       const char *token)
{
    char req[1024];
    double *ms = calloc((size_t)count, sizeof *ms);
    int i, ok = 0, n;
    if (!ms)
        return 2;
    n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: sandbox\r\n%s%s%sConnection: close\r\n\r\n",
                 path, token ? "Authorization: Token " : "", token ? token : "", token ? "\r\n" : "");
    if (n <= 0 || (size_t)n >= sizeof req)
        return 2;
    for (i = 0; i < count; i++) {
        double t0 = flood_now();
        ok += flood_probe_one(addr, req, (size_t)n);
        ms[i] = (flood_now() - t0) * 1000.0;
    }
    qsort(ms, (size_t)count, sizeof *ms, flood_cmp);
    printf("probe %d ok %d median_ms %.3f p99_ms %.3f max_ms %.3f\n", count, ok,
           ms[count / 2], ms[(count * 99) / 100 < count ? (count * 99) / 100 : count - 1],
           ms[count - 1]);
    fflush(stdout);
    free(ms);
    return ok == count ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    int n;
    if (argc < 5) {
        fprintf(stderr, "usage: flood HOST PORT N idle|slow [GIVE_UP_S]\n"
                        "       flood HOST PORT COUNT probe PATH [TOKEN]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    flood_raise_nofile();
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "flood: bad address %s\n", argv[1]);
        return 2;
    }
    n = atoi(argv[3]);
    if (n <= 0) {
        fprintf(stderr, "flood: bad count %s\n", argv[3]);
        return 2;
    }
    if (strcmp(argv[4], "probe") == 0) {
        if (argc < 6)
            return 2;
        return flood_probe(&addr, n, argv[5], argc > 6 ? argv[6] : NULL);
    }
    if (strcmp(argv[4], "idle") == 0 || strcmp(argv[4], "slow") == 0)
        return flood_hold(&addr, n, strcmp(argv[4], "slow") == 0, argc > 5 ? atof(argv[5]) : 60);
    fprintf(stderr, "flood: unknown mode %s\n", argv[4]);
    return 2;
}
