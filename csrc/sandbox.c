/*
 * cohort-sandbox — a local, stateful emulator of the Prolific and QuestionPro APIs.
 *
 * This file is only the HTTP plumbing (libmicrohttpd). All HTTP logic lives in Lua:
 * require("cohort.sandbox.server").new(argv) returns an app whose app:handle(req) answers
 * each request and whose app:tick(now), when defined, runs about every 10 ms. See
 * docs/internals.md, "The sandbox", for the contract and for why this model was chosen.
 *
 * Threads:
 *  - libmicrohttpd's one internal polling thread (epoll) does every socket operation and
 *    calls app:handle; it never sleeps. An answer the app wants late (opts.delay) or slowly
 *    (opts.drip) is held by suspending the connection (MHD_suspend_connection) and putting it
 *    on a timer heap; a content reader that is not due yet suspends the same way.
 *  - main: takes the stop signals (sigtimedwait), resumes the connections whose timer is due,
 *    calls app:tick, and cuts the connections that have not brought a complete request within
 *    the request time-out. It sleeps until the earliest of those; a request thread that adds
 *    an earlier timer wakes it with SIGUSR1.
 * Locks: sandbox_lock guards the one Lua state (app:handle, app:tick, the native helpers);
 * timer_lock guards the timer heap and the stop flag; conn_lock guards the list of open
 * connections. Never two at once, except timer_lock around MHD's own suspend/resume.
 * Stopping: SIGINT/SIGTERM, or app.shutdown set by a request (once its answer is sent) or by
 * a tick. Every suspended connection is resumed (and closed) first, then the daemon stopped.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <microhttpd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#define SANDBOX_MAX_DELAY_MS 60000.0
/* app:tick: the interval when it returns nothing, and the bounds of one it returns (ms) */
#define SANDBOX_TICK_MS 10.0
#define SANDBOX_TICK_MIN_MS 1.0
#define SANDBOX_TICK_MAX_MS 1000.0
/* how often the request time-out is checked (ms) */
#define SANDBOX_SWEEP_MS 100.0
/* defaults of --idle-timeout and --request-timeout (seconds) */
#define SANDBOX_IDLE_TIMEOUT 15
#define SANDBOX_REQUEST_TIMEOUT 30.0
/* file descriptors kept for everything but client connections: the listening socket, epoll
 * and the inter-thread pipe, stdio, files the app opens, outbound connections (webhooks) */
#define SANDBOX_FD_RESERVE 256
/* the kernel caps it at net.core.somaxconn */
#define SANDBOX_BACKLOG 4096
/* opts.drip: default piece size (bytes) */
#define SANDBOX_DRIP_BYTES 16

struct sandbox_request {
    char *uri;      /* raw request URI, query string included, not unescaped */
    char *body;
    size_t len, cap;
    int started;    /* the first call (headers only) has been seen */
    int oom;
    struct MHD_Response *held; /* the answer kept back by opts.delay, queued on resume */
    unsigned int held_status;
    int shutdown; /* app.shutdown was set by this request: stop once its answer is sent */
};

/* One per TCP connection, from libmicrohttpd's connection notifications. */
struct sandbox_conn {
    struct sandbox_conn *prev, *next;
    MHD_socket fd;
    double waiting_since; /* monotonic ms: opened, or its last answer finished */
    int busy;             /* a complete request is being answered */
    int cut;              /* shut down by the request time-out */
};

struct sandbox_timer {
    double due; /* monotonic ms */
    struct MHD_Connection *con;
};

static lua_State *sandbox_L = NULL;
static int sandbox_app_ref = LUA_NOREF;
static pthread_mutex_t sandbox_lock = PTHREAD_MUTEX_INITIALIZER;

static pthread_t sandbox_main_thread;
static volatile sig_atomic_t sandbox_shutdown_asked = 0;

static pthread_mutex_t timer_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sandbox_timer *timers = NULL; /* a binary min-heap on `due` */
static size_t timers_n = 0, timers_cap = 0;
static int timers_stopping = 0;  /* no more suspensions: the daemon is stopping */
static double timers_wake_at = 0; /* when main will look at the heap next */

static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sandbox_conn *conns = NULL;
static unsigned long conns_n = 0, conns_cut = 0;

/* settings, fixed before the daemon starts */
static unsigned int cfg_limit = 0, cfg_idle = SANDBOX_IDLE_TIMEOUT;
static double cfg_request_ms = SANDBOX_REQUEST_TIMEOUT * 1000.0;
static unsigned long ticks_done = 0;

/* ---------------------------------------------------------------- helpers */

static void sandbox_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cohort-sandbox: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

static double sandbox_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds on the monotonic clock (timers and time-outs never follow the wall clock). */
static double sandbox_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sandbox_wake_main(void)
{
    pthread_kill(sandbox_main_thread, SIGUSR1);
}

static char *sandbox_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (!f)
        return NULL;
    for (;;) {
        size_t n;
        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nbuf;
            cap = ncap;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* JSON string body of a 500 answer: {"error":{"status":500,"title":"Sandbox error","detail":msg}} */
static char *sandbox_error_json(const char *msg, size_t *outlen)
{
    static const char head[] = "{\"error\":{\"status\":500,\"title\":\"Sandbox error\",\"detail\":\"";
    static const char tail[] = "\"}}";
    size_t mlen = strlen(msg), i, n = 0;
    char *out = malloc(sizeof head + sizeof tail + mlen * 6 + 1);
    if (!out)
        return NULL;
    memcpy(out, head, sizeof head - 1);
    n = sizeof head - 1;
    for (i = 0; i < mlen; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)sprintf(out + n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    memcpy(out + n, tail, sizeof tail);
    n += sizeof tail - 1;
    *outlen = n;
    return out;
}

/* ----------------------------------------------------------------- timers */

static void timer_swap(size_t a, size_t b)
{
    struct sandbox_timer t = timers[a];
    timers[a] = timers[b];
    timers[b] = t;
}

/* Under timer_lock. */
static int timer_push(double due, struct MHD_Connection *con)
{
    size_t i;
    if (timers_n == timers_cap) {
        size_t ncap = timers_cap ? timers_cap * 2 : 64;
        struct sandbox_timer *nt = realloc(timers, ncap * sizeof *nt);
        if (!nt)
            return 0;
        timers = nt;
        timers_cap = ncap;
    }
    i = timers_n++;
    timers[i].due = due;
    timers[i].con = con;
    while (i > 0 && timers[(i - 1) / 2].due > timers[i].due) {
        timer_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return 1;
}

/* Under timer_lock; the heap is not empty. */
static struct MHD_Connection *timer_pop(void)
{
    struct MHD_Connection *con = timers[0].con;
    size_t i = 0;
    timers[0] = timers[--timers_n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < timers_n && timers[l].due < timers[m].due)
            m = l;
        if (r < timers_n && timers[r].due < timers[m].due)
            m = r;
        if (m == i)
            break;
        timer_swap(i, m);
        i = m;
    }
    return con;
}

/* From libmicrohttpd's thread, inside the access handler or a content reader: suspend the
 * connection until `due` (monotonic ms). Returns 1 when suspended, -1 when the server is
 * stopping (an answer held back is then never sent: the connection is closed), 0 when there
 * is no memory for the timer (the caller then goes on at once). */
static int sandbox_suspend_until(struct MHD_Connection *con, double due)
{
    int wake = 0;
    pthread_mutex_lock(&timer_lock);
    if (timers_stopping) {
        pthread_mutex_unlock(&timer_lock);
        return -1;
    }
    if (!timer_push(due, con)) {
        pthread_mutex_unlock(&timer_lock);
        return 0;
    }
    MHD_suspend_connection(con);
    if (due < timers_wake_at) {
        timers_wake_at = due;
        wake = 1;
    }
    pthread_mutex_unlock(&timer_lock);
    if (wake)
        sandbox_wake_main();
    return 1;
}

/* main: resume the connections that are due; returns when the next one is (or HUGE_VAL). */
static double sandbox_resume_due(double now)
{
    double next;
    pthread_mutex_lock(&timer_lock);
    while (timers_n > 0 && timers[0].due <= now)
        MHD_resume_connection(timer_pop());
    next = timers_n > 0 ? timers[0].due : HUGE_VAL;
    pthread_mutex_unlock(&timer_lock);
    return next;
}

/* main, before stopping the daemon: resume every suspended connection (libmicrohttpd must
 * not be stopped with one suspended) and refuse new suspensions. */
static void sandbox_resume_all(void)
{
    pthread_mutex_lock(&timer_lock);
    timers_stopping = 1;
    while (timers_n > 0)
        MHD_resume_connection(timer_pop());
    pthread_mutex_unlock(&timer_lock);
}

/* ------------------------------------------------------------ connections */

static void sandbox_notify_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                                      enum MHD_ConnectionNotificationCode code)
{
    struct sandbox_conn *c;
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof *c);
        *socket_context = c;
        if (!c)
            return; /* not watched by the request time-out; everything else works */
        c->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
        c->waiting_since = sandbox_mono_ms();
        pthread_mutex_lock(&conn_lock);
        c->next = conns;
        if (conns)
            conns->prev = c;
        conns = c;
        conns_n++;
        pthread_mutex_unlock(&conn_lock);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        /* libmicrohttpd closes the socket after this returns, so while `c` is on the list
         * under conn_lock its fd is this connection's */
        c = *socket_context;
        *socket_context = NULL;
        if (!c)
            return;
        pthread_mutex_lock(&conn_lock);
        if (c->prev)
            c->prev->next = c->next;
        else
            conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        conns_n--;
        pthread_mutex_unlock(&conn_lock);
        free(c);
    }
}

static struct sandbox_conn *sandbox_conn_of(struct MHD_Connection *con)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void sandbox_conn_busy(struct MHD_Connection *con, int busy)
{
    struct sandbox_conn *c = sandbox_conn_of(con);
    if (!c)
        return;
    pthread_mutex_lock(&conn_lock);
    c->busy = busy;
    if (!busy)
        c->waiting_since = sandbox_mono_ms();
    pthread_mutex_unlock(&conn_lock);
}

/* main: shut down the connections that have waited longer than the request time-out for a
 * complete request. libmicrohttpd then sees the end of the stream and closes them itself. */
static void sandbox_sweep(double now)
{
    struct sandbox_conn *c;
    unsigned long cut = 0;
    if (cfg_request_ms <= 0)
        return;
    pthread_mutex_lock(&conn_lock);
    for (c = conns; c; c = c->next) {
        if (!c->busy && !c->cut && c->fd != MHD_INVALID_SOCKET
            && now - c->waiting_since > cfg_request_ms) {
            shutdown(c->fd, SHUT_RDWR);
            c->cut = 1;
            cut++;
        }
    }
    conns_cut += cut;
    pthread_mutex_unlock(&conn_lock);
    if (cut > 0)
        sandbox_log("closed %lu connection%s that sent no complete request in %g s", cut,
                    cut == 1 ? "" : "s", cfg_request_ms / 1000.0);
}

/* ----------------------------------------------------------- native module */

static int sandbox_native_now(lua_State *L)
{
    lua_pushnumber(L, sandbox_now());
    return 1;
}

/* native.server() -> {connections=, connection_limit=, idle_timeout=, request_timeout=,
 * cut=, suspended=, ticks=} — what the server holds right now. */
static int sandbox_native_server(lua_State *L)
{
    unsigned long n, cut, ticks;
    size_t suspended;
    pthread_mutex_lock(&conn_lock);
    n = conns_n;
    cut = conns_cut;
    pthread_mutex_unlock(&conn_lock);
    pthread_mutex_lock(&timer_lock);
    suspended = timers_n;
    pthread_mutex_unlock(&timer_lock);
    ticks = ticks_done; /* written by main under sandbox_lock, which the caller holds */
    lua_createtable(L, 0, 7);
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, -2, "connections");
    lua_pushinteger(L, (lua_Integer)cfg_limit);
    lua_setfield(L, -2, "connection_limit");
    lua_pushinteger(L, (lua_Integer)cfg_idle);
    lua_setfield(L, -2, "idle_timeout");
    lua_pushnumber(L, cfg_request_ms / 1000.0);
    lua_setfield(L, -2, "request_timeout");
    lua_pushinteger(L, (lua_Integer)cut);
    lua_setfield(L, -2, "cut");
    lua_pushinteger(L, (lua_Integer)suspended);
    lua_setfield(L, -2, "suspended");
    lua_pushinteger(L, (lua_Integer)ticks);
    lua_setfield(L, -2, "ticks");
    return 1;
}

static int sandbox_open_native(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, sandbox_native_now);
    lua_setfield(L, -2, "now");
    lua_pushcfunction(L, sandbox_native_server);
    lua_setfield(L, -2, "server");
    return 1;
}

/* ---------------------------------------------------------- MHD callbacks */

static void *sandbox_uri_logger(void *cls, const char *uri, struct MHD_Connection *con)
{
    struct sandbox_request *r = calloc(1, sizeof *r);
    (void)cls;
    (void)con;
    if (!r)
        return NULL;
    r->uri = strdup(uri ? uri : "/");
    if (!r->uri) {
        free(r);
        return NULL;
    }
    return r;
}

static void sandbox_request_free(struct sandbox_request *r)
{
    if (!r)
        return;
    if (r->held)
        MHD_destroy_response(r->held);
    free(r->uri);
    free(r->body);
    free(r);
}

static void sandbox_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct sandbox_request *r = *con_cls;
    (void)cls;
    (void)toe;
    if (r && r->shutdown) {
        sandbox_shutdown_asked = 1; /* its answer has been sent (or has failed) */
        sandbox_wake_main();
    }
    sandbox_request_free(r);
    *con_cls = NULL;
    sandbox_conn_busy(con, 0);
}

static enum MHD_Result sandbox_header_cb(void *cls, enum MHD_ValueKind kind,
                                         const char *key, const char *value)
{
    lua_State *L = cls;
    size_t i, klen;
    char *lower;
    (void)kind;
    if (!key)
        return MHD_YES;
    klen = strlen(key);
    lower = malloc(klen + 1);
    if (!lower)
        return MHD_YES;
    for (i = 0; i <= klen; i++)
        lower[i] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] - 'A' + 'a') : key[i];
    /* repeated headers are joined with ", " */
    if (lua_getfield(L, -1, lower) == LUA_TSTRING) {
        lua_pushstring(L, ", ");
        lua_pushstring(L, value ? value : "");
        lua_concat(L, 3);
    } else {
        lua_pop(L, 1);
        lua_pushstring(L, value ? value : "");
    }
    lua_setfield(L, -2, lower);
    free(lower);
    return MHD_YES;
}

/* A body sent by a content reader rather than from one buffer:
 *  - opts.fault = "truncate" announces the full Content-Length and closes the connection
 *    half-way; "reset" does the same with SO_LINGER 0, so the peer sees a TCP RST;
 *  - opts.drip = ms sends it in pieces of opts.drip_bytes bytes, one every `ms`: between two
 *    pieces the connection is suspended, so the polling thread serves the others. */
struct sandbox_body {
    char *data;
    size_t len, cut;    /* cut: where a truncate/reset stops (len otherwise) */
    int broken, reset;
    MHD_socket fd;
    struct MHD_Connection *con;
    double interval;    /* ms between pieces; 0: no drip */
    size_t piece;
    double due;         /* monotonic ms when the next piece may go */
};

static ssize_t sandbox_body_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sandbox_body *f = cls;
    size_t n;
    if (pos >= f->cut) {
        if (f->reset && f->fd != MHD_INVALID_SOCKET) {
            struct linger lg;
            lg.l_onoff = 1;
            lg.l_linger = 0;
            setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            shutdown(f->fd, SHUT_RDWR);
        }
        return f->broken ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    }
    n = f->cut - (size_t)pos;
    if (f->interval > 0) {
        double now = sandbox_mono_ms();
        if (now < f->due) {
            int held = sandbox_suspend_until(f->con, f->due);
            if (held > 0)
                return 0; /* called again once resumed */
            if (held < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR; /* stopping */
            f->interval = 0; /* no memory for a timer: the rest goes at once */
        } else {
            f->due = now + f->interval;
            if (n > f->piece)
                n = f->piece;
        }
    }
    if (n > max)
        n = max;
    memcpy(buf, f->data + pos, n);
    return (ssize_t)n;
}

static void sandbox_body_free(void *cls)
{
    struct sandbox_body *f = cls;
    free(f->data);
    free(f);
}

static struct MHD_Response *sandbox_body_response(struct MHD_Connection *con, const char *body,
                                                  size_t blen, const char *fault,
                                                  double drip_ms, size_t drip_bytes)
{
    struct sandbox_body *f = calloc(1, sizeof *f);
    const union MHD_ConnectionInfo *ci;
    struct MHD_Response *resp;
    if (!f)
        return NULL;
    f->data = malloc(blen ? blen : 1);
    if (!f->data) {
        free(f);
        return NULL;
    }
    memcpy(f->data, body, blen);
    f->len = blen;
    f->cut = blen;
    if (fault) {
        f->broken = 1;
        f->cut = blen / 2;
        f->reset = strcmp(fault, "reset") == 0;
    }
    f->con = con;
    f->interval = drip_ms;
    f->piece = drip_bytes;
    ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
    f->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
    resp = MHD_create_response_from_callback(blen, 4096, sandbox_body_reader, f,
                                             sandbox_body_free);
    if (!resp)
        sandbox_body_free(f);
    return resp;
}

/* A number field of the table at `idx`, or 0 when absent, not a number or not positive. */
static lua_Number sandbox_opt_number(lua_State *L, int idx, const char *field)
{
    lua_Number v;
    lua_getfield(L, idx, field);
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v > 0 ? v : 0; /* also refuses NaN */
}

/* Under the lock: call app:handle(req) and turn the answer into an MHD response.
 * Returns the response (NULL on out-of-memory) and sets *status and *delay_ms. */
static struct MHD_Response *sandbox_call_app(struct MHD_Connection *con, const char *method,
                                             struct sandbox_request *r, unsigned int *status,
                                             double *delay_ms)
{
    lua_State *L = sandbox_L;
    struct MHD_Response *resp = NULL;
    int top = lua_gettop(L);
    *delay_ms = 0;

    lua_rawgeti(L, LUA_REGISTRYINDEX, sandbox_app_ref);
    lua_getfield(L, -1, "handle");
    lua_pushvalue(L, -2);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, r->uri);
    lua_setfield(L, -2, "uri");
    lua_pushlstring(L, r->body ? r->body : "", r->len);
    lua_setfield(L, -2, "body");
    lua_pushnumber(L, sandbox_now());
    lua_setfield(L, -2, "time");
    lua_newtable(L);
    MHD_get_connection_values(con, MHD_HEADER_KIND, sandbox_header_cb, L);
    lua_setfield(L, -2, "headers");

    if (lua_pcall(L, 2, 4, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        size_t blen = 0;
        char *body;
        if (!msg)
            msg = "(error object is not a string)";
        sandbox_log("error in app:handle for %s %s: %s", method, r->uri, msg);
        body = sandbox_error_json(msg, &blen);
        if (body) {
            resp = MHD_create_response_from_buffer(blen, body, MHD_RESPMEM_MUST_FREE);
            if (!resp)
                free(body);
        }
        if (resp)
            MHD_add_response_header(resp, "Content-Type", "application/json");
        *status = 500;
    } else {
        /* stack: app, status, headers, body, opts */
        int isnum = 0, opts = lua_istable(L, top + 5);
        lua_Integer st = lua_tointegerx(L, top + 2, &isnum);
        size_t blen = 0;
        const char *body = lua_tolstring(L, top + 4, &blen);
        const char *fault = NULL;
        lua_Number drip = 0, drip_bytes = 0;
        if (!isnum || st < 100 || st > 999) {
            sandbox_log("app:handle returned a bad status for %s %s", method, r->uri);
            st = 500;
        }
        *status = (unsigned int)st;
        if (!body) {
            body = "";
            blen = 0;
        }
        if (opts) {
            lua_getfield(L, top + 5, "fault");
            fault = lua_tostring(L, -1);
            if (fault && strcmp(fault, "truncate") != 0 && strcmp(fault, "reset") != 0)
                fault = NULL;
            /* `fault` stays valid: the string stays on the stack until lua_settop below */
            drip = sandbox_opt_number(L, top + 5, "drip");
            drip_bytes = sandbox_opt_number(L, top + 5, "drip_bytes");
            *delay_ms = sandbox_opt_number(L, top + 5, "delay");
            if (*delay_ms > SANDBOX_MAX_DELAY_MS)
                *delay_ms = SANDBOX_MAX_DELAY_MS;
            if (drip > SANDBOX_MAX_DELAY_MS)
                drip = SANDBOX_MAX_DELAY_MS;
        }
        if (fault || drip > 0)
            resp = sandbox_body_response(con, body, blen, fault, (double)drip,
                                         drip_bytes >= 1 ? (size_t)drip_bytes
                                                         : SANDBOX_DRIP_BYTES);
        else
            resp = MHD_create_response_from_buffer(blen, (void *)body, MHD_RESPMEM_MUST_COPY);
        if (resp && lua_istable(L, top + 3)) {
            lua_pushnil(L);
            while (lua_next(L, top + 3)) {
                if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
                    MHD_add_response_header(resp, lua_tostring(L, -2), lua_tostring(L, -1));
                lua_pop(L, 1);
            }
        }
    }
    lua_settop(L, top + 1);
    /* app is at top + 1 */
    if (lua_getfield(L, top + 1, "shutdown") != LUA_TNIL && lua_toboolean(L, -1))
        r->shutdown = 1;
    lua_settop(L, top);
    return resp;
}

static enum MHD_Result sandbox_access(void *cls, struct MHD_Connection *con, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct sandbox_request *r = *con_cls;
    struct MHD_Response *resp;
    unsigned int status = 500;
    double delay_ms = 0;
    enum MHD_Result ret;
    (void)cls;
    (void)url;
    (void)version;

    if (!r)
        return MHD_NO; /* out of memory in the URI logger */

    if (!r->started) {
        r->started = 1; /* headers only; the body (if any) follows in later calls */
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        if (!r->oom && r->cap - r->len < n + 1) {
            size_t ncap = r->cap ? r->cap : 4096;
            char *nbuf;
            while (ncap - r->len < n + 1)
                ncap *= 2;
            nbuf = realloc(r->body, ncap);
            if (!nbuf) {
                r->oom = 1;
            } else {
                r->body = nbuf;
                r->cap = ncap;
            }
        }
        if (!r->oom) {
            memcpy(r->body + r->len, upload_data, n);
            r->len += n;
            r->body[r->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (r->oom)
        return MHD_NO;

    if (r->held) {
        /* resumed after opts.delay, or because the server is stopping */
        int stopping;
        pthread_mutex_lock(&timer_lock);
        stopping = timers_stopping;
        pthread_mutex_unlock(&timer_lock);
        if (stopping)
            return MHD_NO; /* closes the connection; the completion callback frees r->held */
        resp = r->held;
        status = r->held_status;
        r->held = NULL;
    } else {
        sandbox_conn_busy(con, 1);
        pthread_mutex_lock(&sandbox_lock);
        resp = sandbox_call_app(con, method, r, &status, &delay_ms);
        pthread_mutex_unlock(&sandbox_lock);
        if (!resp)
            return MHD_NO;
        if (delay_ms > 0) {
            int held;
            r->held = resp;
            r->held_status = status;
            held = sandbox_suspend_until(con, sandbox_mono_ms() + delay_ms);
            if (held > 0)
                return MHD_YES; /* called again once resumed */
            if (held < 0)
                return MHD_NO; /* stopping: never answered */
            r->held = NULL; /* no memory for a timer: answer now */
        }
    }
    ret = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* libmicrohttpd's messages. A message that repeats (every connection the request time-out
 * cuts gives one) is printed at most once a second, then counted. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *log_last_fmt = NULL;
static double log_last_at = 0;
static unsigned long log_repeats = 0;

static void sandbox_mhd_repeats(void)
{
    if (log_repeats > 0)
        fprintf(stderr, "cohort-sandbox: libmicrohttpd: (the message above: %lu more times)\n",
                log_repeats);
    log_repeats = 0;
}

static void sandbox_mhd_error(void *cls, const char *fmt, va_list ap)
{
    double now = sandbox_mono_ms();
    (void)cls;
    pthread_mutex_lock(&log_lock);
    if (fmt == log_last_fmt && now - log_last_at < 1000.0) {
        log_repeats++;
    } else {
        sandbox_mhd_repeats();
        log_last_fmt = fmt;
        log_last_at = now;
        fputs("cohort-sandbox: libmicrohttpd: ", stderr);
        vfprintf(stderr, fmt, ap);
        fflush(stderr);
    }
    pthread_mutex_unlock(&log_lock);
}

/* ------------------------------------------------------------------- tick */

/* Under lua_pcall, so that even a failing __index on the app is caught: (app, now) ->
 * false when the app has no tick; true, the milliseconds it returned (or nil), and whether
 * this call set app.shutdown (one set by a request stops the server once its answer is sent). */
static int sandbox_tick_protected(lua_State *L)
{
    int before;
    lua_settop(L, 2);
    if (lua_getfield(L, 1, "tick") != LUA_TFUNCTION) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_getfield(L, 1, "shutdown");
    before = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, -2);
    lua_getfield(L, 1, "shutdown");
    lua_pushboolean(L, lua_toboolean(L, -1) && !before);
    lua_remove(L, -2);
    return 3;
}

/* main: app:tick(now) under the lock when the app has one. Returns the milliseconds until the
 * next call. A Lua error is logged (once while it repeats) and ticking goes on. */
static double sandbox_tick(void)
{
    static char last_error[256];
    static unsigned long repeats = 0;
    lua_State *L = sandbox_L;
    double ms = SANDBOX_TICK_MS;
    int top;
    pthread_mutex_lock(&sandbox_lock);
    top = lua_gettop(L);
    lua_pushcfunction(L, sandbox_tick_protected);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sandbox_app_ref);
    lua_pushnumber(L, sandbox_now());
    if (lua_pcall(L, 2, 3, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        ticks_done++;
        if (!msg)
            msg = "(error object is not a string)";
        if (strncmp(msg, last_error, sizeof last_error - 1) != 0) {
            if (repeats > 0)
                sandbox_log("(the error in app:tick above was repeated %lu times)", repeats);
            sandbox_log("error in app:tick: %s", msg);
            snprintf(last_error, sizeof last_error, "%s", msg);
            repeats = 0;
        } else {
            repeats++;
        }
    } else if (lua_toboolean(L, top + 1)) {
        int isnum = 0;
        lua_Number v = lua_tonumberx(L, top + 2, &isnum);
        ticks_done++;
        if (isnum && v == v) {
            ms = v < SANDBOX_TICK_MIN_MS ? SANDBOX_TICK_MIN_MS : v;
            if (ms > SANDBOX_TICK_MAX_MS)
                ms = SANDBOX_TICK_MAX_MS;
        }
        if (lua_toboolean(L, top + 3))
            sandbox_shutdown_asked = 1;
        last_error[0] = '\0';
        repeats = 0;
    }
    lua_settop(L, top);
    pthread_mutex_unlock(&sandbox_lock);
    return ms;
}

/* ------------------------------------------------------------------- main */

/* Reads a string field of the app (on top of the stack); returns a malloc'd copy or NULL. */
static char *sandbox_app_string(lua_State *L, const char *field)
{
    char *s = NULL;
    if (lua_getfield(L, -1, field) == LUA_TSTRING)
        s = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return s;
}

/* A number field of the app (on top of the stack), or `dflt` when it is not a number. */
static lua_Number sandbox_app_number(lua_State *L, const char *field, lua_Number dflt)
{
    int isnum = 0;
    lua_Number v;
    lua_getfield(L, -1, field);
    v = lua_tonumberx(L, -1, &isnum);
    lua_pop(L, 1);
    return isnum && v == v ? v : dflt;
}

static int sandbox_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = "(error object is not a string)";
    lua_pushstring(L, msg);
    return 1;
}

/* Raise the soft limit of open files to the hard one; returns the soft limit now in force. */
static rlim_t sandbox_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur != rl.rlim_max) {
        struct rlimit want = rl;
        want.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    return rl.rlim_cur;
}

/* Sets cfg_limit from the open-file limit and the app's max_connections (0: as many as fit). */
static void sandbox_connection_limit(rlim_t nofile, lua_Number asked)
{
    rlim_t room = nofile > SANDBOX_FD_RESERVE + 16 ? nofile - SANDBOX_FD_RESERVE : 16;
    if (room > 1000000)
        room = 1000000; /* RLIM_INFINITY: no real bound from the kernel */
    cfg_limit = (unsigned int)room;
    if (asked >= 1) {
        if (asked > (lua_Number)room)
            sandbox_log("--max-connections %.0f is more than the open-file limit allows; "
                        "using %u", (double)asked, cfg_limit);
        else
            cfg_limit = (unsigned int)asked;
    }
}

int main(int argc, char **argv)
{
    lua_State *L;
    struct MHD_Daemon *mhd = NULL;
    const union MHD_DaemonInfo *info;
    struct sockaddr_in addr;
    char *host = NULL, *cert_path = NULL, *key_path = NULL, *help = NULL;
    char *cert = NULL, *key = NULL;
    const char *app_module;
    lua_Integer port = 0;
    lua_Number max_connections, idle, request;
    unsigned int flags;
    sigset_t sigs;
    rlim_t nofile;
    int i, status = 0;
    double next_tick, next_sweep;
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* A background job of a non-interactive shell starts with SIGINT ignored: undo that. */
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    nofile = sandbox_raise_nofile();

    L = luaL_newstate();
    if (!L) {
        sandbox_log("cannot create a Lua state");
        return 1;
    }
    sandbox_L = L;
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, sandbox_open_native);
    lua_setfield(L, -2, "cohort.sandbox.native");
    lua_pop(L, 1);

    /* app = require(COHORT_SANDBOX_APP or "cohort.sandbox.server").new(argv) */
    app_module = getenv("COHORT_SANDBOX_APP");
    if (!app_module || !*app_module)
        app_module = "cohort.sandbox.server";
    lua_pushcfunction(L, sandbox_traceback);
    lua_getglobal(L, "require");
    lua_pushstring(L, app_module);
    if (lua_pcall(L, 1, 1, 1) != LUA_OK) {
        sandbox_log("%s", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    lua_getfield(L, -1, "new");
    lua_createtable(L, argc > 1 ? argc - 1 : 0, 0);
    for (i = 1; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    if (lua_pcall(L, 1, 1, 1) != LUA_OK || !lua_istable(L, -1)) {
        const char *msg = lua_tostring(L, -1);
        sandbox_log("%s", msg ? msg : "server.new did not return an app table");
        fputs("usage: cohort-sandbox [--host H] [--port N] [--token T] [--api-key K] "
              "[--seed FILE.json] [--tls CERT KEY] [--help]\n", stderr);
        lua_close(L);
        return 2;
    }
    help = sandbox_app_string(L, "help");
    if (help) {
        fputs(help, stdout);
        fflush(stdout);
        free(help);
        lua_close(L);
        return 0;
    }
    lua_pushvalue(L, -1);
    sandbox_app_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    host = sandbox_app_string(L, "host");
    cert_path = sandbox_app_string(L, "tls_cert");
    key_path = sandbox_app_string(L, "tls_key");
    lua_getfield(L, -1, "port");
    port = lua_tointeger(L, -1);
    lua_pop(L, 1);
    max_connections = sandbox_app_number(L, "max_connections", 0);
    idle = sandbox_app_number(L, "idle_timeout", SANDBOX_IDLE_TIMEOUT);
    request = sandbox_app_number(L, "request_timeout", SANDBOX_REQUEST_TIMEOUT);
    lua_settop(L, 0);

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    if (port < 0 || port > 65535) {
        sandbox_log("bad port %lld", (long long)port);
        status = 2;
        goto done;
    }
    if (idle < 0 || idle > 86400 || request < 0 || request > 86400) {
        sandbox_log("the time-outs must be 0..86400 seconds");
        status = 2;
        goto done;
    }
    cfg_idle = (unsigned int)ceil(idle);
    cfg_request_ms = request * 1000.0;
    sandbox_connection_limit(nofile, max_connections);
    addr.sin_port = htons((unsigned short)port);
    if (!host || strcmp(host, "localhost") == 0) {
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        sandbox_log("bad host %s (an IPv4 address is expected)", host);
        status = 2;
        goto done;
    }
    if ((cert_path == NULL) != (key_path == NULL)) {
        sandbox_log("--tls needs both a certificate and a key");
        status = 2;
        goto done;
    }
    if (cert_path) {
        cert = sandbox_read_file(cert_path);
        key = sandbox_read_file(key_path);
        if (!cert || !key) {
            sandbox_log("cannot read %s", !cert ? cert_path : key_path);
            status = 2;
            goto done;
        }
    }

    /* Block the stop signals and the wake-up in every thread; main takes them with
     * sigtimedwait. libmicrohttpd's thread inherits the mask. */
    sandbox_main_thread = pthread_self();
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (cert)
        flags |= MHD_USE_TLS;
    mhd = MHD_start_daemon(flags, 0, NULL, NULL, sandbox_access, NULL,
                           MHD_OPTION_EXTERNAL_LOGGER, sandbox_mhd_error, NULL,
                           MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                           MHD_OPTION_URI_LOG_CALLBACK, sandbox_uri_logger, NULL,
                           MHD_OPTION_NOTIFY_COMPLETED, sandbox_completed, NULL,
                           MHD_OPTION_NOTIFY_CONNECTION, sandbox_notify_connection, NULL,
                           MHD_OPTION_CONNECTION_LIMIT, cfg_limit,
                           MHD_OPTION_CONNECTION_TIMEOUT, cfg_idle,
                           MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)SANDBOX_BACKLOG,
                           /* the certificate options last: with no TLS they end the list */
                           cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
                           MHD_OPTION_HTTPS_MEM_KEY, key,
                           MHD_OPTION_END);
    if (!mhd) {
        sandbox_log("cannot start the HTTP daemon on %s:%lld", host ? host : "127.0.0.1",
                    (long long)port);
        status = 1;
        goto done;
    }
    info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
    printf("cohort-sandbox listening on %s://%s:%u\n", cert ? "https" : "http",
           (!host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "localhost") == 0)
               ? "127.0.0.1" : host,
           info ? (unsigned int)info->port : (unsigned int)port);
    fflush(stdout);

    next_tick = next_sweep = sandbox_mono_ms();
    while (!sandbox_shutdown_asked) {
        double now = sandbox_mono_ms(), wake, wait_ms;
        struct timespec ts;
        int sig;
        if (now >= next_tick)
            next_tick = now + sandbox_tick();
        if (now >= next_sweep) {
            sandbox_sweep(now);
            next_sweep = now + SANDBOX_SWEEP_MS;
        }
        if (sandbox_shutdown_asked)
            break;
        wake = sandbox_resume_due(sandbox_mono_ms());
        if (next_tick < wake)
            wake = next_tick;
        if (next_sweep < wake)
            wake = next_sweep;
        pthread_mutex_lock(&timer_lock);
        /* a timer added since sandbox_resume_due looked is earlier than that or wakes us */
        if (timers_n > 0 && timers[0].due < wake)
            wake = timers[0].due;
        timers_wake_at = wake;
        pthread_mutex_unlock(&timer_lock);
        wait_ms = wake - sandbox_mono_ms();
        if (wait_ms < 0)
            wait_ms = 0;
        ts.tv_sec = (time_t)(wait_ms / 1000.0);
        ts.tv_nsec = (long)((wait_ms - (double)ts.tv_sec * 1000.0) * 1e6);
        if (ts.tv_nsec > 999999999L)
            ts.tv_nsec = 999999999L;
        sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM)
            break;
    }
    sandbox_resume_all();
    MHD_stop_daemon(mhd);
    sandbox_mhd_repeats();

done:
    free(host);
    free(cert_path);
    free(key_path);
    free(cert);
    free(key);
    free(timers);
    if (sandbox_app_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, sandbox_app_ref);
    lua_close(L);
    pthread_mutex_destroy(&sandbox_lock);
    pthread_mutex_destroy(&timer_lock);
    pthread_mutex_destroy(&conn_lock);
    pthread_mutex_destroy(&log_lock);
    return status;
}
