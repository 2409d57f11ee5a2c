/*
 * cohort-sandbox — a local, stateful emulator of the Prolific and QuestionPro APIs.
 *
 * This file is only the HTTP plumbing (libmicrohttpd, one thread per connection).
 * All HTTP logic lives in Lua: require("cohort.sandbox.server").new(argv) returns an
 * app whose app:handle(req) answers each request. See docs/internals.md, "The sandbox".
 *
 * Threads: every connection has its own thread; the single Lua state is guarded by
 * `sandbox_lock`. A delay asked for by the app (opts.delay, ms) is slept after the lock
 * is released, so slow answers never hold up the others.
 * Stopping: SIGINT/SIGTERM (blocked in every thread, taken by sigwait in main), or
 * app.shutdown set by a request: once that answer has been sent the connection thread
 * raises SIGTERM at the process, and main stops the daemon the same way.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <microhttpd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#define SANDBOX_MAX_DELAY_MS 60000L

struct sandbox_request {
    char *uri;      /* raw request URI, query string included, not unescaped */
    char *body;
    size_t len, cap;
    int started; /* the first call (headers only) has been seen */
    int oom;
};

static lua_State *sandbox_L = NULL;
static int sandbox_app_ref = LUA_NOREF;
static pthread_mutex_t sandbox_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t sandbox_stopping = 0;
static volatile sig_atomic_t sandbox_shutdown_asked = 0;

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

static int sandbox_native_now(lua_State *L)
{
    lua_pushnumber(L, sandbox_now());
    return 1;
}

static int sandbox_open_native(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, sandbox_native_now);
    lua_setfield(L, -2, "now");
    return 1;
}

/* Sleep `ms` milliseconds in small slices, giving up early when the server stops. */
static void sandbox_sleep_ms(long ms)
{
    while (ms > 0 && !sandbox_stopping) {
        long slice = ms > 20 ? 20 : ms;
        struct timespec ts;
        ts.tv_sec = 0;
        ts.tv_nsec = slice * 1000000L;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        ms -= slice;
    }
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
    free(r->uri);
    free(r->body);
    free(r);
}

static void sandbox_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con;
    (void)toe;
    sandbox_request_free(*con_cls);
    *con_cls = NULL;
    if (sandbox_shutdown_asked && !sandbox_stopping) {
        sandbox_stopping = 1;
        kill(getpid(), SIGTERM);
    }
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

/* A body that breaks off: opts.fault = "truncate" announces the full Content-Length and closes
 * the connection half-way; "reset" does the same with SO_LINGER 0, so the peer sees a TCP RST. */
struct sandbox_fault_body {
    char *data;
    size_t len, cut;
    int reset;
    MHD_socket fd;
};

static ssize_t sandbox_fault_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sandbox_fault_body *f = cls;
    size_t n;
    if (pos >= f->cut) {
        if (f->reset && f->fd != MHD_INVALID_SOCKET) {
            struct linger lg;
            lg.l_onoff = 1;
            lg.l_linger = 0;
            setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            shutdown(f->fd, SHUT_RDWR);
        }
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    n = f->cut - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, f->data + pos, n);
    return (ssize_t)n;
}

static void sandbox_fault_free(void *cls)
{
    struct sandbox_fault_body *f = cls;
    free(f->data);
    free(f);
}

static struct MHD_Response *sandbox_fault_response(struct MHD_Connection *con, const char *body,
                                                   size_t blen, int reset)
{
    struct sandbox_fault_body *f = calloc(1, sizeof *f);
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
    f->cut = blen / 2;
    f->reset = reset;
    ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
    f->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
    resp = MHD_create_response_from_callback(blen, 4096, sandbox_fault_reader, f,
                                             sandbox_fault_free);
    if (!resp)
        sandbox_fault_free(f);
    return resp;
}

/* Under the lock: call app:handle(req) and turn the answer into an MHD response.
 * Returns the response (NULL on out-of-memory) and sets *status and *delay_ms. */
static struct MHD_Response *sandbox_call_app(struct MHD_Connection *con, const char *method,
                                             struct sandbox_request *r, unsigned int *status,
                                             long *delay_ms)
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
        int isnum = 0;
        lua_Integer st = lua_tointegerx(L, top + 2, &isnum);
        size_t blen = 0;
        const char *body = lua_tolstring(L, top + 4, &blen);
        if (!isnum || st < 100 || st > 999) {
            sandbox_log("app:handle returned a bad status for %s %s", method, r->uri);
            st = 500;
        }
        *status = (unsigned int)st;
        resp = NULL;
        if (lua_istable(L, top + 5)) {
            const char *fault;
            lua_getfield(L, top + 5, "fault");
            fault = lua_tostring(L, -1);
            if (fault && (strcmp(fault, "truncate") == 0 || strcmp(fault, "reset") == 0))
                resp = sandbox_fault_response(con, body ? body : "", body ? blen : 0,
                                              strcmp(fault, "reset") == 0);
            lua_pop(L, 1);
        }
        if (!resp)
            resp = MHD_create_response_from_buffer(body ? blen : 0, (void *)(body ? body : ""),
                                                   MHD_RESPMEM_MUST_COPY);
        if (resp && lua_istable(L, top + 3)) {
            lua_pushnil(L);
            while (lua_next(L, top + 3)) {
                if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
                    MHD_add_response_header(resp, lua_tostring(L, -2), lua_tostring(L, -1));
                lua_pop(L, 1);
            }
        }
        if (lua_istable(L, top + 5)) {
            lua_Number d;
            lua_getfield(L, top + 5, "delay");
            d = lua_tonumber(L, -1);
            lua_pop(L, 1);
            if (d > 0)
                *delay_ms = d > (lua_Number)SANDBOX_MAX_DELAY_MS ? SANDBOX_MAX_DELAY_MS : (long)d;
        }
    }
    lua_settop(L, top + 1);
    /* app is at top + 1 */
    if (lua_getfield(L, top + 1, "shutdown") != LUA_TNIL && lua_toboolean(L, -1))
        sandbox_shutdown_asked = 1;
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
    long delay_ms = 0;
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

    pthread_mutex_lock(&sandbox_lock);
    resp = sandbox_call_app(con, method, r, &status, &delay_ms);
    pthread_mutex_unlock(&sandbox_lock);
    if (!resp)
        return MHD_NO;

    if (delay_ms > 0)
        sandbox_sleep_ms(delay_ms);

    ret = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void sandbox_mhd_error(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("cohort-sandbox: libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fflush(stderr);
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

static int sandbox_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = "(error object is not a string)";
    lua_pushstring(L, msg);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L;
    struct MHD_Daemon *mhd = NULL;
    const union MHD_DaemonInfo *info;
    struct sockaddr_in addr;
    char *host = NULL, *cert_path = NULL, *key_path = NULL, *help = NULL;
    char *cert = NULL, *key = NULL;
    lua_Integer port = 0;
    unsigned int flags;
    sigset_t sigs;
    int i, sig, status = 0;
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* A background job of a non-interactive shell starts with SIGINT ignored: undo that. */
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

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

    /* app = require("cohort.sandbox.server").new(argv) */
    lua_pushcfunction(L, sandbox_traceback);
    lua_getglobal(L, "require");
    lua_pushstring(L, "cohort.sandbox.server");
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
    lua_settop(L, 0);

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    if (port < 0 || port > 65535) {
        sandbox_log("bad port %lld", (long long)port);
        status = 2;
        goto done;
    }
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

    /* Block the stop signals in every thread; main takes them with sigwait. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (cert)
        flags |= MHD_USE_TLS;
    if (cert) {
        mhd = MHD_start_daemon(flags, 0, NULL, NULL, sandbox_access, NULL,
                                  MHD_OPTION_EXTERNAL_LOGGER, sandbox_mhd_error, NULL,
                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                  MHD_OPTION_URI_LOG_CALLBACK, sandbox_uri_logger, NULL,
                                  MHD_OPTION_NOTIFY_COMPLETED, sandbox_completed, NULL,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
                                  MHD_OPTION_HTTPS_MEM_CERT, cert,
                                  MHD_OPTION_HTTPS_MEM_KEY, key,
                                  MHD_OPTION_END);
    } else {
        mhd = MHD_start_daemon(flags, 0, NULL, NULL, sandbox_access, NULL,
                                  MHD_OPTION_EXTERNAL_LOGGER, sandbox_mhd_error, NULL,
                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                  MHD_OPTION_URI_LOG_CALLBACK, sandbox_uri_logger, NULL,
                                  MHD_OPTION_NOTIFY_COMPLETED, sandbox_completed, NULL,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
                                  MHD_OPTION_END);
    }
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

    for (;;) {
        if (sigwait(&sigs, &sig) == 0 && (sig == SIGINT || sig == SIGTERM))
            break;
    }
    sandbox_stopping = 1;
    MHD_stop_daemon(mhd);

done:
    free(host);
    free(cert_path);
    free(key_path);
    free(cert);
    free(key);
    if (sandbox_app_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, sandbox_app_ref);
    lua_close(L);
    pthread_mutex_destroy(&sandbox_lock);
    return status;
}
