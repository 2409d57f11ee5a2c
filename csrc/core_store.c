/* core_store.c — core.store_open: an SQLite file held by one process at a time.
 *
 * cohort.workbench.store builds the store (its tables, its rules) on this binding; this unit
 * knows only files, locks and SQL:
 *
 *   local db, err = core.store_open(path, {
 *     application_id = 0x636F686F,   -- the header must carry it (checked before SQLite reads)
 *     readonly = false,              -- true: no lock, no create, no write
 *     create = true,                 -- a missing file is built from `init` and linked in place
 *     init = { "CREATE TABLE ...", ... },
 *     check = "quick",               -- "quick" | "full" | "none": PRAGMA quick/integrity_check
 *     label = "prolific.bonuses:pay_all()", busy_timeout = 5000 })
 *   db:exec(sql)        -> true | nil, err     statements without parameters
 *   db:rows(sql, ...)   -> array of rows       one statement, ? parameters; NULL is absent
 *   db:run(sql, ...)    -> changes             one statement, rows discarded
 *   db:info()           -> {pid, host, since, created, readonly, path}
 *   db:in_transaction() -> boolean
 *   db:close()          (also __gc and __close; idempotent)
 *
 * err is a table {code =, message =, sqlite = <SQLite's extended code>, errno =, label =,
 * since =}; `code` is one of NOT_FOUND DIRECTORY NOT_REGULAR EMPTY NOT_SQLITE OLD_JOURNAL
 * FOREIGN TRUNCATED CORRUPT LOCKED OPEN_HERE IO or the name of SQLite's primary result code
 * (SQLITE_BUSY, SQLITE_FULL …). Misuse (wrong argument types, a closed store) raises.
 *
 * The single-holder rule is a flock(LOCK_EX | LOCK_NB) on a descriptor of the database file,
 * held from before SQLite opens the file until after SQLite has closed it. The kernel drops it
 * with the process, so a killed holder never leaves a stale lock, and a second holder is told
 * at once (never waits). flock and SQLite's own POSIX (fcntl) locks are independent; but
 * POSIX locks belong to the process and close() of *any* descriptor of a file drops all of
 * them, so a descriptor of a file that this process has open in SQLite is never closed while
 * a connection is open: it is unlocked and parked in the process-wide registry of open files
 * (one entry per inode, under a mutex), and closed when the last connection on it is gone.
 * The same registry refuses a second read-write open in the process (OPEN_HERE) without
 * touching the file. The header is read through SQLite's own file handle, not a descriptor
 * of ours.
 *
 * No SQLite callback is ever registered (sqlite3_exec runs with none), so no Lua error can
 * cross an SQLite frame. All the work of an open is done in C with the results kept in C
 * memory; Lua values are pushed only after every resource is either owned by the userdata
 * (whose __gc releases it) or released. A statement that a Lua error (out of memory) leaves
 * unfinished is kept in `pending` and finalized by the next call, close or __gc. */
#define _DEFAULT_SOURCE 1 /* flock, gethostname */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "core.h"

#define STORE_MT "cohort.core.Store"
#define STORE_MSG 512
#define STORE_LABEL 128

/* ------------------------------------------------------------------ the registry of open files */

typedef struct inode {
    dev_t dev;
    ino_t ino;
    int conns;                 /* SQLite connections of this process on the file */
    int held;                  /* a read-write store of this process holds the lock */
    char label[STORE_LABEL];   /* what holds it, and since when */
    time_t since;
    int *parked;               /* descriptors to close when conns falls to 0 */
    int nparked, capparked;
    struct inode *next;
} inode;

static inode *registry;
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned store_tmp_counter;

/* under registry_mu */
static inode *registry_get(dev_t dev, ino_t ino)
{
    inode *n;
    for (n = registry; n != NULL; n = n->next)
        if (n->dev == dev && n->ino == ino) return n;
    n = (inode *)calloc(1, sizeof *n);
    if (n == NULL) return NULL;
    n->dev = dev;
    n->ino = ino;
    n->next = registry;
    registry = n;
    return n;
}

/* under registry_mu: close parked descriptors once no connection is left; drop an unused entry */
static void registry_settle(inode *n)
{
    inode **pp;
    int i;
    if (n->conns > 0) return;
    for (i = 0; i < n->nparked; i++) close(n->parked[i]);
    free(n->parked);
    n->parked = NULL;
    n->nparked = n->capparked = 0;
    if (n->held) return;
    for (pp = &registry; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            free(n);
            return;
        }
    }
}

/* under registry_mu: give up a descriptor of n's file without disturbing SQLite's locks */
static void registry_release_fd(inode *n, int fd)
{
    flock(fd, LOCK_UN);
    if (n->conns == 0) {
        close(fd);
        return;
    }
    if (n->nparked == n->capparked) {
        int cap = n->capparked ? n->capparked * 2 : 4;
        int *p = (int *)realloc(n->parked, (size_t)cap * sizeof(int));
        if (p == NULL) return; /* keep it open for good rather than drop SQLite's locks */
        n->parked = p;
        n->capparked = cap;
    }
    n->parked[n->nparked++] = fd;
}

/* ------------------------------------------------------------------ errors kept in C */

typedef struct serr {
    const char *code;
    char msg[STORE_MSG];
    int sqlite_rc, err_no;
    char label[STORE_LABEL];
    time_t since;
} serr;

static const char *store_rc_name(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_ERROR: return "SQLITE_ERROR";
    case SQLITE_INTERNAL: return "SQLITE_INTERNAL";
    case SQLITE_PERM: return "SQLITE_PERM";
    case SQLITE_ABORT: return "SQLITE_ABORT";
    case SQLITE_BUSY: return "SQLITE_BUSY";
    case SQLITE_LOCKED: return "SQLITE_LOCKED";
    case SQLITE_NOMEM: return "SQLITE_NOMEM";
    case SQLITE_READONLY: return "SQLITE_READONLY";
    case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT";
    case SQLITE_IOERR: return "SQLITE_IOERR";
    case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
    case SQLITE_NOTFOUND: return "SQLITE_NOTFOUND";
    case SQLITE_FULL: return "SQLITE_FULL";
    case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL: return "SQLITE_PROTOCOL";
    case SQLITE_SCHEMA: return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG: return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH: return "SQLITE_MISMATCH";
    case SQLITE_MISUSE: return "SQLITE_MISUSE";
    case SQLITE_NOLFS: return "SQLITE_NOLFS";
    case SQLITE_AUTH: return "SQLITE_AUTH";
    case SQLITE_RANGE: return "SQLITE_RANGE";
    case SQLITE_NOTADB: return "SQLITE_NOTADB";
    default: return "SQLITE_ERROR";
    }
}

static int store_fail(serr *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int store_fail(serr *e, const char *code, const char *fmt, ...)
{
    va_list ap;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* An SQLite failure: SQLITE_CORRUPT and SQLITE_NOTADB name a damaged file. */
static int store_fail_sqlite(serr *e, sqlite3 *db, int rc, const char *doing)
{
    const char *m = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int prim = rc & 0xff;
    e->sqlite_rc = rc;
    if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB)
        return store_fail(e, "CORRUPT", "is damaged (%s: %s)", doing, m);
    return store_fail(e, store_rc_name(rc), "%s: %s", doing, m);
}

static void store_push_err(lua_State *L, const serr *e)
{
    lua_pushnil(L);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, e->code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, e->msg);
    lua_setfield(L, -2, "message");
    if (e->sqlite_rc) {
        lua_pushinteger(L, e->sqlite_rc);
        lua_setfield(L, -2, "sqlite");
    }
    if (e->err_no) {
        lua_pushinteger(L, e->err_no);
        lua_setfield(L, -2, "errno");
    }
    if (e->label[0]) {
        lua_pushstring(L, e->label);
        lua_setfield(L, -2, "label");
        lua_pushinteger(L, (lua_Integer)e->since);
        lua_setfield(L, -2, "since");
    }
}

/* ------------------------------------------------------------------ the userdata */

typedef struct store {
    sqlite3 *db;
    sqlite3_stmt *pending;  /* a statement a Lua error cut short: finalized by the next call */
    inode *node;            /* registry entry while open */
    int lock_fd;            /* the flock'd descriptor (-1: read-only) */
    int counted;            /* counted in node->conns */
    int readonly, created;
    time_t since;
    char *path;
} store;

/* Close everything a store holds, SQLite first, the lock's descriptor after. Idempotent. */
static void store_release(store *s)
{
    if (s->pending) {
        sqlite3_finalize(s->pending);
        s->pending = NULL;
    }
    if (s->db) {
        sqlite3_close_v2(s->db); /* every statement is finalized: closes at once */
        s->db = NULL;
    }
    if (s->node) {
        pthread_mutex_lock(&registry_mu);
        if (s->counted) s->node->conns--;
        s->counted = 0;
        if (s->lock_fd >= 0) {
            s->node->held = 0;
            registry_release_fd(s->node, s->lock_fd);
            s->lock_fd = -1;
        }
        registry_settle(s->node);
        pthread_mutex_unlock(&registry_mu);
        s->node = NULL;
    }
    free(s->path);
    s->path = NULL;
}

static store *store_check(lua_State *L)
{
    store *s = (store *)luaL_checkudata(L, 1, STORE_MT);
    if (s->db == NULL) luaL_error(L, "cohort.core: attempt to use a closed store");
    if (s->pending) {
        sqlite3_finalize(s->pending);
        s->pending = NULL;
    }
    return s;
}

/* ------------------------------------------------------------------ opening */

typedef struct open_opts {
    int readonly, create, check; /* check: 0 none, 1 quick, 2 full */
    long long application_id;
    int busy_ms;
    int init;                    /* stack index of the init array, or 0 */
    const char *label;
} open_opts;

/* The name SQLite is given: a path that starts with "file:" would be read as a URI. */
static char *store_sqlite_name(const char *path, const char *suffix)
{
    size_t n = strlen(path), k = strlen(suffix);
    int dot = strncmp(path, "file:", 5) == 0;
    char *out = (char *)malloc(n + k + 3);
    if (out == NULL) return NULL;
    snprintf(out, n + k + 3, "%s%s%s", dot ? "./" : "", path, suffix);
    return out;
}

static void store_fsync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd;
    if (slash == NULL) {
        dir = strdup(".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = (char *)malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (dir == NULL) return;
    fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Copy src to a new file dst (O_EXCL), synced: the fallback where hard links are not allowed.
 * 1 made, 0 dst existed already, -1 failed (e filled). */
static int store_copy_excl(const char *src, const char *dst, serr *e)
{
    char buf[65536];
    ssize_t n;
    int in, out, ok = 1;
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        e->err_no = errno;
        return store_fail(e, "IO", "cannot read the new store %s: %s", src, strerror(errno));
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (out < 0) {
        int en = errno;
        close(in);
        if (en == EEXIST) return 0;
        e->err_no = en;
        return store_fail(e, "IO", "cannot create: %s", strerror(en));
    }
    while (ok && (n = read(in, buf, sizeof buf)) != 0) {
        ssize_t off = 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            ok = 0;
            break;
        }
        while (off < n) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR) continue;
                ok = 0;
                break;
            }
            off += w;
        }
    }
    if (ok && fsync(out) != 0) ok = 0;
    if (!ok) e->err_no = errno;
    close(out);
    close(in);
    if (!ok) {
        unlink(dst); /* nobody can hold it yet: it was never complete */
        return store_fail(e, "IO", "cannot write: %s", strerror(e->err_no));
    }
    return 1;
}

/* Build a new store under a temporary name (its header, application id, init statements, all
 * committed) and link it into place, so the path never names a file that is not a complete
 * store: a crash leaves at most a stray "<path>.tmp-<pid>-<n>". Returns 0 when the path now
 * exists (made by us: *created = 1, or by another process meanwhile), -1 on failure. */
static int store_create(lua_State *L, const char *path, const open_opts *o, int *created,
                        serr *e)
{
    char suffix[64], *tmp = NULL, *tmpname = NULL, *msg = NULL;
    sqlite3 *db = NULL;
    int rc, i, n, made;
    char pragma[96];
    snprintf(suffix, sizeof suffix, ".tmp-%ld-%u", (long)getpid(),
             __atomic_fetch_add(&store_tmp_counter, 1, __ATOMIC_RELAXED));
    tmp = (char *)malloc(strlen(path) + sizeof suffix);
    tmpname = store_sqlite_name(path, suffix);
    if (tmp == NULL || tmpname == NULL) {
        free(tmp);
        free(tmpname);
        return store_fail(e, "SQLITE_NOMEM", "out of memory");
    }
    snprintf(tmp, strlen(path) + sizeof suffix, "%s%s", path, suffix);
    unlink(tmp); /* a leftover of a crashed process that had our pid: never linked, or linked */
    rc = sqlite3_open_v2(tmpname, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        if (db == NULL) {
            store_fail(e, "SQLITE_NOMEM", "out of memory");
        } else if ((rc & 0xff) == SQLITE_CANTOPEN) {
            e->err_no = sqlite3_system_errno(db);
            store_fail(e, "IO", "cannot create: %s", e->err_no ? strerror(e->err_no) : sqlite3_errmsg(db));
        } else {
            store_fail_sqlite(e, db, rc, "creating");
        }
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; BEGIN IMMEDIATE",
                      NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        snprintf(pragma, sizeof pragma, "PRAGMA application_id = %lld", o->application_id);
        rc = sqlite3_exec(db, pragma, NULL, NULL, NULL);
    }
    n = o->init ? (int)lua_rawlen(L, o->init) : 0;
    for (i = 1; rc == SQLITE_OK && i <= n; i++) {
        const char *sql;
        lua_rawgeti(L, o->init, i); /* a string (checked before): no metamethod, no allocation */
        sql = lua_tostring(L, -1);
        rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
        lua_pop(L, 1);
        if (rc != SQLITE_OK) {
            store_fail(e, store_rc_name(rc), "creating: init[%d]: %s", i,
                       msg ? msg : sqlite3_errstr(rc));
            e->sqlite_rc = rc;
            sqlite3_free(msg);
            goto fail;
        }
    }
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        store_fail_sqlite(e, db, rc, "creating");
        goto fail;
    }
    rc = sqlite3_close(db); /* the last connection: the WAL is checkpointed and removed */
    db = NULL;
    if (rc != SQLITE_OK) {
        store_fail(e, store_rc_name(rc), "creating: %s", sqlite3_errstr(rc));
        goto fail;
    }
    if (link(tmp, path) == 0) {
        made = 1;
    } else if (errno == EEXIST) {
        made = 0;
    } else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS ||
               errno == EMLINK || errno == EXDEV) {
        made = store_copy_excl(tmp, path, e); /* a file system without hard links */
        if (made < 0) goto fail;
    } else {
        e->err_no = errno;
        store_fail(e, "IO", "cannot create: %s", strerror(errno));
        goto fail;
    }
    unlink(tmp);
    store_fsync_dir(path);
    *created = made;
    free(tmp);
    free(tmpname);
    return 0;
fail:
    if (db) sqlite3_close(db);
    unlink(tmp);
    free(tmp);
    free(tmpname);
    return -1;
}

static unsigned long be32(const unsigned char *p)
{
    return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) | p[3];
}

/* Is this the start of a JSON-lines journal of an earlier cohort? */
static int store_looks_like_old_journal(const unsigned char *h, size_t n)
{
    size_t i = 0;
    while (i < n && (h[i] == ' ' || h[i] == '\n' || h[i] == '\r' || h[i] == '\t')) i++;
    if (i >= n || h[i] != '{') return 0;
    for (; i + 6 <= n; i++)
        if (memcmp(h + i, "\"key\":", 6) == 0 || memcmp(h + i, "\"phase", 6) == 0) return 1;
    return 0;
}

/* Read the file's first 100 bytes through SQLite's own handle and refuse what is not a whole
 * store of this application: before SQLite itself reads (and might write) anything. */
static int store_check_header(store *s, const open_opts *o, serr *e)
{
    sqlite3_file *f = NULL;
    sqlite3_int64 size = 0;
    unsigned char h[100];
    unsigned long appid, pages, psize;
    int rc;
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK ||
        f == NULL || f->pMethods == NULL)
        return store_fail(e, "IO", "cannot read its header");
    if (f->pMethods->xFileSize(f, &size) != SQLITE_OK)
        return store_fail(e, "IO", "cannot read its size");
    if (size == 0)
        return store_fail(e, "EMPTY",
                          "is empty (0 bytes): a cohort store is never empty, so this file was "
                          "emptied or was never a store; it is not used as a new one");
    memset(h, 0, sizeof h);
    rc = f->pMethods->xRead(f, h, (int)sizeof h, 0);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
        return store_fail(e, "IO", "cannot read its header: %s", sqlite3_errstr(rc));
    if (memcmp(h, "SQLite format 3", 16) != 0) {
        size_t n = size < 100 ? (size_t)size : 100, i, zeros = 0;
        if (store_looks_like_old_journal(h, n))
            return store_fail(e, "OLD_JOURNAL",
                              "is a JSON-lines journal of an earlier cohort, not an SQLite store: "
                              "finish its run with the cohort that wrote it, or move it away "
                              "and start a new journal");
        for (i = 0; i < n; i++) zeros += h[i] == 0;
        if (zeros == n)
            return store_fail(e, "NOT_SQLITE", "is not an SQLite database (it begins with NUL bytes)");
        return store_fail(e, "NOT_SQLITE",
                          "is not an SQLite database (it begins with bytes %02x %02x %02x %02x, "
                          "not the SQLite header)", h[0], h[1], h[2], h[3]);
    }
    if (size < 100)
        return store_fail(e, "TRUNCATED", "is cut short: %lld bytes, less than an SQLite header",
                          (long long)size);
    appid = be32(h + 68);
    if ((long long)appid != o->application_id) {
        if (appid == 0)
            return store_fail(e, "FOREIGN",
                              "is an SQLite database of another program (it has no application "
                              "id; cohort's is 0x%08llx)", o->application_id);
        return store_fail(e, "FOREIGN",
                          "is an SQLite database of another program (application id 0x%08lx; "
                          "cohort's is 0x%08llx)", appid, o->application_id);
    }
    psize = ((unsigned long)h[16] << 8) | h[17];
    if (psize == 1) psize = 65536;
    if (psize < 512 || (psize & (psize - 1)) != 0)
        return store_fail(e, "CORRUPT", "is damaged (page size %lu in its header)", psize);
    if (size % (sqlite3_int64)psize != 0)
        return store_fail(e, "TRUNCATED", "is cut short: %lld bytes, not a whole number of "
                          "%lu-byte pages", (long long)size, psize);
    pages = be32(h + 28);
    if (pages > 0 && be32(h + 24) == be32(h + 92) &&
        (sqlite3_int64)pages * (sqlite3_int64)psize > size) {
        /* with a WAL beside it the file may lag its header after an interrupted checkpoint:
         * then SQLite's own check below decides */
        struct stat st;
        char *wal = store_sqlite_name(s->path, "-wal");
        int has_wal = wal != NULL && stat(wal, &st) == 0 && st.st_size > 0;
        free(wal);
        if (!has_wal)
            return store_fail(e, "TRUNCATED", "is cut short: %lld bytes where its header records "
                              "%lu pages of %lu bytes", (long long)size, pages, psize);
    }
    return 0;
}

static int store_integrity(store *s, int full, serr *e)
{
    sqlite3_stmt *st = NULL;
    const char *sql = full ? "PRAGMA integrity_check(1)" : "PRAGMA quick_check(1)";
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (r == NULL || strcmp(r, "ok") != 0) {
            store_fail(e, "CORRUPT", "is damaged (%s: %s)", full ? "integrity_check" : "quick_check",
                       r ? r : "no answer");
            sqlite3_finalize(st);
            return -1;
        }
        sqlite3_finalize(st);
        return 0;
    }
    store_fail_sqlite(e, s->db, rc, full ? "integrity_check" : "quick_check");
    sqlite3_finalize(st);
    return -1;
}

/* The whole open, in C. On failure everything is released and e says why. */
static int store_do_open(lua_State *L, store *s, const char *path, const open_opts *o, serr *e)
{
    struct stat st;
    char *name;
    int rc, fd = -1;
    s->path = strdup(path);
    if (s->path == NULL) return store_fail(e, "SQLITE_NOMEM", "out of memory");
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            e->err_no = errno;
            return store_fail(e, "IO", "cannot open: %s", strerror(errno));
        }
        if (o->readonly || !o->create) return store_fail(e, "NOT_FOUND", "does not exist");
        if (store_create(L, path, o, &s->created, e) != 0) return -1;
        if (stat(path, &st) != 0) {
            e->err_no = errno;
            return store_fail(e, "IO", "cannot open: %s", strerror(errno));
        }
    }
    if (S_ISDIR(st.st_mode)) return store_fail(e, "DIRECTORY", "is a directory, not a store file");
    if (!S_ISREG(st.st_mode)) return store_fail(e, "NOT_REGULAR", "is not a regular file");
    if (!o->readonly) {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            e->err_no = errno;
            return store_fail(e, "IO", "cannot open: %s", strerror(errno));
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd); /* nothing of this process can be open on a file just replaced */
            return store_fail(e, "NOT_REGULAR", "is not a regular file");
        }
    }
    pthread_mutex_lock(&registry_mu);
    s->node = registry_get(st.st_dev, st.st_ino);
    if (s->node == NULL) {
        pthread_mutex_unlock(&registry_mu);
        if (fd >= 0) close(fd); /* no entry: no connection of ours on it */
        return store_fail(e, "SQLITE_NOMEM", "out of memory");
    }
    if (!o->readonly) {
        if (s->node->held) {
            snprintf(e->label, sizeof e->label, "%s", s->node->label);
            e->since = s->node->since;
            registry_release_fd(s->node, fd);
            pthread_mutex_unlock(&registry_mu);
            s->node = NULL;
            return store_fail(e, "OPEN_HERE", "is already open in this process (by %s)", e->label);
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int en = errno;
            registry_release_fd(s->node, fd);
            registry_settle(s->node);
            pthread_mutex_unlock(&registry_mu);
            s->node = NULL;
            if (en == EWOULDBLOCK) return store_fail(e, "LOCKED", "is in use by another process");
            e->err_no = en;
            return store_fail(e, "IO", "cannot lock: %s", strerror(en));
        }
        s->node->held = 1;
        s->since = time(NULL);
        s->node->since = s->since;
        snprintf(s->node->label, sizeof s->node->label, "%s", o->label ? o->label : "a store");
        s->lock_fd = fd;
    }
    s->node->conns++; /* counted before SQLite has a descriptor of the file */
    s->counted = 1;
    pthread_mutex_unlock(&registry_mu);
    if (o->readonly) s->since = time(NULL);

    name = store_sqlite_name(path, "");
    if (name == NULL) return store_fail(e, "SQLITE_NOMEM", "out of memory");
    rc = sqlite3_open_v2(name, &s->db, o->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE,
                         NULL);
    free(name);
    if (rc != SQLITE_OK) {
        if (s->db == NULL) return store_fail(e, "SQLITE_NOMEM", "out of memory");
        return store_fail_sqlite(e, s->db, rc, "cannot open");
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (!o->readonly && sqlite3_db_readonly(s->db, "main") == 1)
        return store_fail(e, "SQLITE_READONLY", "cannot be written (a read-only file)");
    sqlite3_busy_timeout(s->db, o->busy_ms);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    if (store_check_header(s, o, e) != 0) return -1;
    if (o->check && store_integrity(s, o->check == 2, e) != 0) return -1;
    s->readonly = o->readonly;
    return 0;
}

static int store_lopen(lua_State *L)
{
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    open_opts o;
    store *s;
    serr e;
    memset(&o, 0, sizeof o);
    o.create = 0;
    o.check = 1;
    o.busy_ms = 5000;
    if (len == 0 || strlen(path) != len)
        return luaL_argerror(L, 1, "a file path without NUL bytes");
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "readonly");
        o.readonly = lua_toboolean(L, -1);
        lua_getfield(L, 2, "create");
        o.create = lua_toboolean(L, -1);
        lua_getfield(L, 2, "application_id");
        if (!COHORT_ISINT(L, -1)) return luaL_error(L, "cohort.core.store_open: application_id must be an integer");
        o.application_id = (long long)lua_tonumber(L, -1);
        if (o.application_id < 0 || o.application_id > 0x7fffffffLL)
            return luaL_error(L, "cohort.core.store_open: application_id must fit 31 bits");
        lua_getfield(L, 2, "check");
        if (!lua_isnil(L, -1)) {
            const char *c = luaL_checkstring(L, -1);
            if (strcmp(c, "none") == 0) o.check = 0;
            else if (strcmp(c, "quick") == 0) o.check = 1;
            else if (strcmp(c, "full") == 0) o.check = 2;
            else return luaL_error(L, "cohort.core.store_open: check must be none, quick or full");
        }
        lua_getfield(L, 2, "busy_timeout");
        if (!lua_isnil(L, -1)) {
            lua_Number ms = luaL_checknumber(L, -1);
            o.busy_ms = ms < 0 ? 0 : ms > 600000 ? 600000 : (int)ms;
        }
        lua_getfield(L, 2, "label");
        o.label = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1); /* pinned by opts */
        lua_getfield(L, 2, "init");
        if (!lua_isnil(L, -1)) {
            int i, n;
            luaL_checktype(L, -1, LUA_TTABLE);
            n = (int)lua_rawlen(L, -1);
            for (i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                if (lua_type(L, -1) != LUA_TSTRING)
                    return luaL_error(L, "cohort.core.store_open: init[%d] must be an SQL string", i);
                lua_pop(L, 1);
            }
            o.init = lua_absindex(L, -1);
        }
    } else {
        return luaL_error(L, "cohort.core.store_open: options with application_id expected");
    }
    /* born closed, with its metatable, before anything is opened: __gc releases what follows */
    s = (store *)COHORT_NEWUDATA(L, sizeof(store));
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
    luaL_setmetatable(L, STORE_MT);
    memset(&e, 0, sizeof e);
    if (store_do_open(L, s, path, &o, &e) != 0) {
        store_release(s);
        store_push_err(L, &e);
        return 2;
    }
    return 1;
}

/* ------------------------------------------------------------------ statements */

static int store_push_sqlite_err(lua_State *L, store *s, int rc)
{
    serr e;
    memset(&e, 0, sizeof e);
    e.sqlite_rc = rc;
    e.code = store_rc_name(rc);
    snprintf(e.msg, sizeof e.msg, "%s", sqlite3_errmsg(s->db));
    store_push_err(L, &e);
    return 2;
}

/* db:exec(sql): statements without parameters, no callback */
static int store_lexec(lua_State *L)
{
    store *s = store_check(L);
    const char *sql = luaL_checkstring(L, 2);
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        serr e;
        memset(&e, 0, sizeof e);
        e.sqlite_rc = rc;
        e.code = store_rc_name(rc);
        snprintf(e.msg, sizeof e.msg, "%s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg); /* free before anything that may raise */
        store_push_err(L, &e);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Prepare one statement and bind arguments 3..top. Raises on misuse (nothing held then);
 * returns 0 with s->pending set, or pushes nil, err and returns 2. */
static int store_prepare(lua_State *L, store *s)
{
    size_t len;
    const char *sql = luaL_checklstring(L, 2, &len), *tail = NULL;
    int top = lua_gettop(L), i, rc, nparams;
    sqlite3_stmt *st = NULL;
    for (i = 3; i <= top; i++) {
        int t = lua_type(L, i);
        if (t != LUA_TNIL && t != LUA_TBOOLEAN && t != LUA_TNUMBER && t != LUA_TSTRING)
            return luaL_error(L, "cohort.core: store parameter %d: cannot bind a %s", i - 2,
                              lua_typename(L, t));
    }
    rc = sqlite3_prepare_v2(s->db, sql, (int)len, &st, &tail);
    if (rc != SQLITE_OK) return store_push_sqlite_err(L, s, rc);
    if (st == NULL) return luaL_error(L, "cohort.core: store: no SQL statement in %s", sql);
    while (tail && *tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';'))
        tail++;
    nparams = sqlite3_bind_parameter_count(st);
    if ((tail && *tail) || nparams != top - 2) {
        sqlite3_finalize(st);
        if (tail && *tail) return luaL_error(L, "cohort.core: store: one statement at a time");
        return luaL_error(L, "cohort.core: store: the statement takes %d parameters, %d given",
                          nparams, top - 2);
    }
    for (i = 3; i <= top && rc == SQLITE_OK; i++) {
        int k = i - 2;
        switch (lua_type(L, i)) {
        case LUA_TNIL: rc = sqlite3_bind_null(st, k); break;
        case LUA_TBOOLEAN: rc = sqlite3_bind_int(st, k, lua_toboolean(L, i)); break;
        case LUA_TNUMBER:
            if (COHORT_ISINT(L, i))
                rc = sqlite3_bind_int64(st, k, (sqlite3_int64)lua_tointeger(L, i));
            else
                rc = sqlite3_bind_double(st, k, (double)lua_tonumber(L, i));
            break;
        default: {
            size_t n;
            const char *p = lua_tolstring(L, i, &n); /* a string: no conversion, no allocation */
            rc = sqlite3_bind_text64(st, k, p, (sqlite3_uint64)n, SQLITE_TRANSIENT, SQLITE_UTF8);
        }
        }
    }
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_push_sqlite_err(L, s, rc);
    }
    s->pending = st;
    return 0;
}

static void store_push_column(lua_State *L, sqlite3_stmt *st, int c)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(st, c)); break;
    case SQLITE_FLOAT: lua_pushnumber(L, (lua_Number)sqlite3_column_double(st, c)); break;
    case SQLITE_BLOB: {
        const void *b = sqlite3_column_blob(st, c);
        lua_pushlstring(L, b ? (const char *)b : "", (size_t)sqlite3_column_bytes(st, c));
        break;
    }
    default: {
        const unsigned char *t = sqlite3_column_text(st, c);
        lua_pushlstring(L, t ? (const char *)t : "", (size_t)sqlite3_column_bytes(st, c));
    }
    }
}

/* Finish a step loop that stopped on rc: finalize, then error or success. */
static int store_finish(lua_State *L, store *s, int rc)
{
    sqlite3_stmt *st = s->pending;
    s->pending = NULL;
    if (rc != SQLITE_DONE) {
        serr e;
        memset(&e, 0, sizeof e);
        snprintf(e.msg, sizeof e.msg, "%s", sqlite3_errmsg(s->db));
        e.sqlite_rc = sqlite3_finalize(st);
        if (e.sqlite_rc == SQLITE_OK) e.sqlite_rc = rc;
        e.code = store_rc_name(e.sqlite_rc);
        store_push_err(L, &e);
        return 2;
    }
    sqlite3_finalize(st);
    return 0;
}

/* db:rows(sql, ...) -> array of {column = value} */
static int store_lrows(lua_State *L)
{
    store *s = store_check(L);
    int r, rc, n = 0, ncol;
    if ((r = store_prepare(L, s)) != 0) return r;
    lua_newtable(L);
    ncol = sqlite3_column_count(s->pending);
    while ((rc = sqlite3_step(s->pending)) == SQLITE_ROW) {
        int c;
        const char *name;
        lua_createtable(L, 0, ncol);
        for (c = 0; c < ncol; c++) {
            if (sqlite3_column_type(s->pending, c) == SQLITE_NULL) continue;
            name = sqlite3_column_name(s->pending, c);
            store_push_column(L, s->pending, c);
            lua_setfield(L, -2, name ? name : "?");
        }
        lua_rawseti(L, -2, ++n);
    }
    if ((r = store_finish(L, s, rc)) != 0) return r;
    return 1;
}

/* db:run(sql, ...) -> number of rows changed */
static int store_lrun(lua_State *L)
{
    store *s = store_check(L);
    int r, rc;
    if ((r = store_prepare(L, s)) != 0) return r;
    while ((rc = sqlite3_step(s->pending)) == SQLITE_ROW) {}
    if ((r = store_finish(L, s, rc)) != 0) return r;
    lua_pushinteger(L, (lua_Integer)sqlite3_changes(s->db));
    return 1;
}

static int store_linfo(lua_State *L)
{
    store *s = store_check(L);
    char host[256];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)getpid());
    lua_setfield(L, -2, "pid");
    lua_pushstring(L, host);
    lua_setfield(L, -2, "host");
    lua_pushinteger(L, (lua_Integer)s->since);
    lua_setfield(L, -2, "since");
    lua_pushboolean(L, s->created);
    lua_setfield(L, -2, "created");
    lua_pushboolean(L, s->readonly);
    lua_setfield(L, -2, "readonly");
    lua_pushstring(L, s->path);
    lua_setfield(L, -2, "path");
    return 1;
}

static int store_lin_transaction(lua_State *L)
{
    store *s = store_check(L);
    lua_pushboolean(L, !sqlite3_get_autocommit(s->db));
    return 1;
}

static int store_lclose(lua_State *L)
{
    store *s = (store *)luaL_checkudata(L, 1, STORE_MT);
    store_release(s);
    lua_pushboolean(L, 1);
    return 1;
}

static int store_ltostring(lua_State *L)
{
    store *s = (store *)luaL_checkudata(L, 1, STORE_MT);
    if (s->db == NULL) lua_pushliteral(L, "cohort.core.Store (closed)");
    else lua_pushfstring(L, "cohort.core.Store %s%s", s->path, s->readonly ? " (read-only)" : "");
    return 1;
}

static const luaL_Reg store_methods[] = {
    {"exec", store_lexec},
    {"rows", store_lrows},
    {"run", store_lrun},
    {"info", store_linfo},
    {"in_transaction", store_lin_transaction},
    {"close", store_lclose},
    {NULL, NULL},
};

/* core.store_open(path, opts): the metatable is made on first use */
int store_lopen_entry(lua_State *L)
{
    if (luaL_newmetatable(L, STORE_MT)) {
        lua_pushcfunction(L, store_lclose);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, store_lclose);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, store_ltostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, STORE_MT);
        lua_setfield(L, -2, "__name");
        lua_newtable(L);
        luaL_setfuncs(L, store_methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    return store_lopen(L);
}
