/* SPDX-License-Identifier: MIT */
/* Pipe loop and unix-socket event loop (see server.h).
 *
 * DESIGN: one thread, one epoll set. Each connection owns an input buffer (bounded by max_line)
 * and an output buffer: pdns sends one request and waits for its reply; a client that pipelines
 * gets the replies to what it sent, up to 64 KiB of them, in one send, and while they are still
 * being written we stop reading from that connection (no unbounded queueing for a client that
 * pipelines and never reads). All sockets are non-blocking, so a
 * stalled or slow client only ever waits on itself. Signals arrive through a signalfd.
 *
 * Commits (commitTransaction, setDomainMetadata) wait for the writers' lock and rewrite and
 * fsync the store: milliseconds to seconds. They run on a writer thread, one at a time (they
 * serialise on the lock anyway); the connection that asked is parked (out of the epoll set,
 * its further input left in its buffer) until the writer hands the result back through an
 * eventfd, and the loop installs the new store and sends the reply. Every other connection is
 * answered meanwhile, from the store being served. */
#include "backend/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backend/protocol.h"
#include "common/log.h"
#include "common/sbuf.h"
#include "common/xalloc.h"

/* ---- shared request handling -------------------------------------------------------------- */

/* Rate limit for per-request error logs: at most this many lines per second. */
#define LOG_BURST 10

static void log_request_error(const char *where, const struct errbuf *err)
{
    static time_t window;
    static unsigned count, suppressed;
    time_t now = time(NULL);
    if (now != window) {
        if (suppressed)
            log_warn("proto", "%u more request errors suppressed", suppressed);
        window = now;
        count = suppressed = 0;
    }
    if (count++ < LOG_BURST)
        log_warn("proto", "%s: %s", where, err->msg);
    else
        suppressed++;
}

/* Answers one framing result: a request line or an over-long line. Returns DISPATCH_DEFERRED
 * when a commit was handed out (ss->job) instead of a reply, else 0. */
static int answer(dispatch_t *d,
                  struct session *ss,
                  enum proto_result pr,
                  const char *line,
                  size_t len,
                  const struct proto_lines *pl,
                  struct sbuf *out,
                  const char *where)
{
    struct errbuf err;
    if (pr == PROTO_TOO_LONG) {
        errbuf_set(&err, -E2BIG, "request line longer than %zu bytes, discarded", pl->max_line);
        sbuf_puts(out, "{\"result\":false,\"log\":[");
        sbuf_json_str(out, err.msg, strlen(err.msg));
        sbuf_puts(out, "]}\n");
        log_request_error(where, &err);
        return 0;
    }
    int r = dispatch_request(d, ss, line, len, out, &err);
    if (r < 0)
        log_request_error(where, &err);
    return r == DISPATCH_DEFERRED ? r : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- pipe --------------------------------------------------------------------------------- */

static server_pipe_hook pipe_hook;
static void *pipe_hook_opaque;

int server_run_pipe(dispatch_t *d, int in_fd, int out_fd, const struct server_limits *lim)
{
    struct proto_lines pl;
    struct sbuf out = SBUF_INIT;
    struct session ss = {0};
    const char *line;
    size_t len, room;
    enum proto_result pr;
    int r = 0;

    proto_init(&pl, lim->max_line);
    for (;;) {
        char *p = proto_reserve(&pl, 65536, &room);
        ssize_t n = read(in_fd, p, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                log_warn("proto", "reading requests from pdns: %m; stopping");
            /* A last request without its newline still gets an answer. */
            sbuf_reset(&out);
            if ((pr = proto_finish(&pl, &line, &len)) != PROTO_NEED_MORE) {
                answer(d, &ss, pr, line, len, &pl, &out, "pipe");
                write_all(out_fd, out.p, out.len);
            }
            break;
        }
        proto_commit(&pl, (size_t)n);
        sbuf_reset(&out);
        if (pipe_hook)
            pipe_hook(pipe_hook_opaque);
        while ((pr = proto_next(&pl, &line, &len)) != PROTO_NEED_MORE)
            answer(d, &ss, pr, line, len, &pl, &out, "pipe");
        if (out.len == 0)
            continue;
        r = write_all(out_fd, out.p, out.len);
        if (r < 0) {
            log_err("proto", "writing a reply to pdns: %s; stopping", strerror(-r));
            break;
        }
        if (out.cap > 1024 * 1024) /* do not keep a huge list reply's buffer around */
            sbuf_free(&out);
    }
    dispatch_session_end(d, &ss); /* an open transaction is rolled back */
    proto_free(&pl);
    sbuf_free(&out);
    return r;
}

/* ---- unix socket -------------------------------------------------------------------------- */

struct conn {
    int fd;
    unsigned id;
    bool parked;          /* a commit of this connection is with the writer thread */
    bool closing;         /* the peer went away while parked: close when the commit is back */
    bool eof;             /* the peer shut down its sending side: answer what came, then close */
    struct conn *wq_next; /* the writer's queue or done list */
    struct proto_lines in;
    struct sbuf out;
    size_t out_off;
    struct session ss;
    uint32_t events; /* what epoll watches now: EPOLLIN, or EPOLLOUT while a reply is pending */
    struct conn *prev, *next;
};

struct server {
    int lfd, epfd, sigfd;
    struct server_hooks hooks;
    char *path;
    dev_t dev;
    ino_t ino;
    bool activated; /* the listening socket came from the service manager */
    struct server_limits lim;
    unsigned nconns, next_id;
    struct conn *conns;
    time_t last_full_warning;
    dispatch_t *d; /* while server_run() runs */
    struct {
        pthread_t thread;
        bool started, stop;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct conn *queue, *queue_tail; /* to run */
        struct conn *done;               /* run; for the loop to finish */
        int efd;                         /* readable when done is not empty */
    } w;
};

static void conn_close(server_t *srv, struct conn *c)
{
    if (c->parked) { /* the writer thread has its session: close when it hands it back */
        c->closing = true;
        return;
    }
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    if (c->ss.txn)
        log_info("server", "connection %u closed with a transaction open: rolled back", c->id);
    if (srv->d)
        dispatch_session_end(srv->d, &c->ss);
    log_debug("server", "connection %u closed after %lu requests", c->id, c->ss.requests);
    proto_free(&c->in);
    sbuf_free(&c->out);
    free(c);
}

static int conn_want(server_t *srv, struct conn *c, uint32_t events)
{
    /* Skip the system call when nothing changes: the common case, one per request. */
    if (c->events == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    c->events = events;
    return epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes pending output. Returns 1 when all is written, 0 when the socket is full, -1 when the
 * connection failed. */
static int conn_flush(struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        c->out_off += (size_t)w;
    }
    sbuf_reset(&c->out);
    c->out_off = 0;
    if (c->out.cap > 1024 * 1024)
        sbuf_free(&c->out);
    return 1;
}

/* ---- the writer thread ---------------------------------------------------------------------- */

static void *writer_run(void *arg)
{
    server_t *srv = arg;
    pthread_mutex_lock(&srv->w.lock);
    for (;;) {
        while (!srv->w.queue && !srv->w.stop)
            pthread_cond_wait(&srv->w.cond, &srv->w.lock);
        struct conn *c = srv->w.queue;
        if (!c)
            break; /* stopping, and nothing left: commits asked for are all carried out */
        srv->w.queue = c->wq_next;
        if (!srv->w.queue)
            srv->w.queue_tail = NULL;
        pthread_mutex_unlock(&srv->w.lock);
        dispatch_job_run(&c->ss);
        pthread_mutex_lock(&srv->w.lock);
        c->wq_next = srv->w.done;
        srv->w.done = c;
        uint64_t one = 1;
        ssize_t wr = write(srv->w.efd, &one, sizeof(one));
        (void)wr;
    }
    pthread_mutex_unlock(&srv->w.lock);
    return NULL;
}

static int writer_start(server_t *srv)
{
    srv->w.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->w.efd < 0)
        return -errno;
    pthread_mutex_init(&srv->w.lock, NULL);
    pthread_cond_init(&srv->w.cond, NULL);
    /* Signals belong to the loop's signalfd. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = pthread_create(&srv->w.thread, NULL, writer_run, srv);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        close(srv->w.efd);
        srv->w.efd = -1;
        return -r;
    }
    srv->w.started = true;
    return 0;
}

/* Parks c (out of the epoll set: nothing read, no hang-up noticed) and queues its commit. */
static void writer_post(server_t *srv, struct conn *c)
{
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    c->events = 0;
    c->parked = true;
    pthread_mutex_lock(&srv->w.lock);
    c->wq_next = NULL;
    if (srv->w.queue_tail)
        srv->w.queue_tail->wq_next = c;
    else
        srv->w.queue = c;
    srv->w.queue_tail = c;
    pthread_cond_signal(&srv->w.cond);
    pthread_mutex_unlock(&srv->w.lock);
}

static void conn_serve(server_t *srv, dispatch_t *d, struct conn *c);

/* On the loop: the commits the writer carried out are installed and answered. */
static void writer_collect(server_t *srv, dispatch_t *d)
{
    uint64_t v;
    ssize_t rd = read(srv->w.efd, &v, sizeof(v));
    (void)rd;
    pthread_mutex_lock(&srv->w.lock);
    struct conn *done = srv->w.done;
    srv->w.done = NULL;
    pthread_mutex_unlock(&srv->w.lock);
    while (done) {
        struct conn *c = done;
        done = c->wq_next;
        char where[32];
        struct errbuf err;
        snprintf(where, sizeof(where), "connection %u", c->id);
        if (dispatch_job_finish(d, &c->ss, &c->out, &err) < 0)
            log_request_error(where, &err);
        c->parked = false;
        if (c->closing) {
            conn_flush(c); /* the peer may have shut down only its sending side */
            conn_close(srv, c);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        c->events = EPOLLIN;
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
            log_err("server", "epoll_ctl: %m");
            c->events = 0;
        }
        conn_serve(srv, d, c); /* the reply, then requests that came meanwhile */
    }
}

static void writer_stop(server_t *srv)
{
    if (!srv->w.started)
        return;
    pthread_mutex_lock(&srv->w.lock);
    srv->w.stop = true;
    pthread_cond_signal(&srv->w.cond);
    pthread_mutex_unlock(&srv->w.lock);
    pthread_join(srv->w.thread, NULL);
    srv->w.started = false;
    /* Carried out but not answered: the connections are closing; their results are dropped
     * (the files are written; the store is not installed: we are shutting down). */
    for (struct conn *c = srv->w.done; c; c = c->wq_next)
        c->parked = false;
    srv->w.done = NULL;
    close(srv->w.efd);
    srv->w.efd = -1;
}

/* After the peer's EOF: a last request without its newline still gets an answer, as on the
 * pipe; then the connection is closed. */
static void conn_finish(server_t *srv, dispatch_t *d, struct conn *c, const char *where)
{
    const char *line;
    size_t len;
    enum proto_result pr = proto_finish(&c->in, &line, &len);
    if (pr != PROTO_NEED_MORE &&
        answer(d, &c->ss, pr, line, len, &c->in, &c->out, where) == DISPATCH_DEFERRED)
    {
        writer_post(srv, c);
        c->closing = true; /* answered (if the peer still reads) and closed when it is back */
        return;
    }
    conn_flush(c);
    conn_close(srv, c);
}

/* Answers buffered requests one at a time until input runs dry or the socket is full. */
static void conn_serve(server_t *srv, dispatch_t *d, struct conn *c)
{
    char where[32];
    snprintf(where, sizeof(where), "connection %u", c->id);
    for (;;) {
        /* Answer every buffered request (up to 64 KiB of replies), then send once: a client
         * that pipelines gets one send per batch, not per reply (pdns itself sends one at a
         * time, which this does not change). */
        enum proto_result pr = PROTO_LINE;
        while (c->out.len - c->out_off < 65536) {
            const char *line;
            size_t len;
            pr = proto_next(&c->in, &line, &len);
            if (pr == PROTO_NEED_MORE)
                break;
            if (answer(d, &c->ss, pr, line, len, &c->in, &c->out, where) == DISPATCH_DEFERRED) {
                if (c->out.len > c->out_off && conn_flush(c) < 0) {
                    conn_close(srv, c);
                    return;
                }
                writer_post(srv, c);
                return;
            }
        }
        if (c->out.len > c->out_off) {
            int f = conn_flush(c);
            if (f < 0) {
                conn_close(srv, c);
                return;
            }
            if (f == 0) {
                conn_want(srv, c, EPOLLOUT);
                return;
            }
        }
        if (pr == PROTO_NEED_MORE)
            break;
    }
    if (c->eof) {
        conn_finish(srv, d, c, where);
        return;
    }
    conn_want(srv, c, EPOLLIN);
}

static void conn_read(server_t *srv, dispatch_t *d, struct conn *c)
{
    for (int rounds = 0; rounds < 4; rounds++) {
        size_t room;
        char *p = proto_reserve(&c->in, 16384, &room);
        ssize_t n = recv(c->fd, p, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            conn_close(srv, c); /* pdns closed this backend instance */
            return;
        }
        if (n == 0) {
            c->eof = true; /* what is buffered is answered first */
            break;
        }
        proto_commit(&c->in, (size_t)n);
        if ((size_t)n < room)
            break;
    }
    conn_serve(srv, d, c);
}

static void accept_all(server_t *srv)
{
    for (int i = 0; i < 256; i++) {
        int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("server", "accept on '%s': %m", srv->path);
            return;
        }
        if (srv->nconns >= srv->lim.max_conns) {
            time_t now = time(NULL);
            if (now != srv->last_full_warning)
                log_warn("server", "refusing a connection: %u connections open (the limit)",
                         srv->nconns);
            srv->last_full_warning = now;
            close(fd);
            continue;
        }
        struct conn *c = xcalloc(1, sizeof(*c));
        c->fd = fd;
        c->id = ++srv->next_id;
        c->events = EPOLLIN;
        proto_init(&c->in, srv->lim.max_line);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            log_err("server", "epoll_ctl: %m");
            close(fd);
            free(c);
            continue;
        }
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->nconns++;
        log_debug("server", "connection %u accepted (%u open)", c->id, srv->nconns);
    }
}

int server_listen_fds(const char *listen_pid, const char *listen_fds, pid_t self)
{
    if (!listen_pid || !listen_fds)
        return 0;
    char *end;
    errno = 0;
    unsigned long pid = strtoul(listen_pid, &end, 10);
    if (errno || !*listen_pid || *end || *listen_pid == '-' || pid == 0)
        return -EINVAL;
    if (pid != (unsigned long)self)
        return 0; /* meant for the process that started us */
    unsigned long n = strtoul(listen_fds, &end, 10);
    if (errno || !*listen_fds || *end || *listen_fds == '-' || n > 1024)
        return -EINVAL;
    return (int)n;
}

/* The socket systemd passed us (fd 3), checked to be the one --listen names. */
static int inherited_socket(const char *path, int *ret_fd, struct errbuf *err)
{
    int n = server_listen_fds(getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getpid());
    /* Not for any child of ours (we start none, but libraries might). */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (n < 0)
        return errbuf_set(err, n, "socket activation: LISTEN_PID/LISTEN_FDS are malformed");
    if (n == 0)
        return 0;
    if (n != 1)
        return errbuf_set(err, -EINVAL,
                          "socket activation: %d sockets passed; one is expected (ListenStream=%s)",
                          n, path);
    int fd = 3, type = 0, listening = 0;
    socklen_t tl = sizeof(type), ll = sizeof(listening);
    struct sockaddr_un sa = {0};
    socklen_t sl = sizeof(sa);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        return errbuf_set(err, -errno, "socket activation: fd 3 is not a socket (%m)");
    if (sa.sun_family != AF_UNIX || type != SOCK_STREAM || !listening)
        return errbuf_set(err, -EINVAL,
                          "socket activation: fd 3 is not a listening unix stream socket");
    size_t plen = sl > offsetof(struct sockaddr_un, sun_path)
                      ? strnlen(sa.sun_path, sl - offsetof(struct sockaddr_un, sun_path))
                      : 0;
    if (plen != strlen(path) || memcmp(sa.sun_path, path, plen) != 0)
        return errbuf_set(err, -EINVAL,
                          "socket activation: the socket passed is '%.*s', not --listen '%s'",
                          (int)plen, sa.sun_path, path);
    struct stat st;
    if (stat(path, &st) < 0)
        return errbuf_set(err, -errno, "socket activation: '%s' (%m)", path);
    if (st.st_mode & S_IWOTH)
        return errbuf_set(err, -EPERM,
                          "socket activation: '%s' is writable by every user (mode %04o); set "
                          "SocketMode=0660 and SocketGroup= in the .socket unit",
                          path, (unsigned)(st.st_mode & 07777));
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return errbuf_set(err, -errno, "socket activation: fcntl on fd 3 (%m)");
    *ret_fd = fd;
    return 1;
}

int server_listen(const char *path,
                  mode_t mode,
                  gid_t gid,
                  const struct server_limits *lim,
                  server_t **ret,
                  struct errbuf *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t plen = strlen(path);
    int fd = -1, r;
    server_t *srv = NULL;

    r = inherited_socket(path, &fd, err);
    if (r < 0)
        return r;
    if (r > 0) {
        srv = xcalloc(1, sizeof(*srv));
        srv->lfd = fd;
        srv->activated = true;
        goto made;
    }

    if (plen == 0)
        return errbuf_set(err, -EINVAL, "empty socket path");
    if (plen >= sizeof(sa.sun_path))
        return errbuf_set(err, -ENAMETOOLONG,
                          "socket path '%s' is %zu bytes long; the limit is %zu bytes", path, plen,
                          sizeof(sa.sun_path) - 1);
    memcpy(sa.sun_path, path, plen + 1);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return errbuf_set(err, -EEXIST, "'%s' exists and is not a socket; not replacing it",
                              path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return errbuf_set(err, -errno, "socket: %m");
        r = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
        int e = errno;
        close(probe);
        if (r == 0)
            return errbuf_set(err, -EADDRINUSE,
                              "socket '%s' is in use: another process is listening on it", path);
        if (e != ECONNREFUSED)
            return errbuf_set(err, -e, "cannot check existing socket '%s' (%s)", path, strerror(e));
        if (unlink(path) < 0)
            return errbuf_set(err, -errno, "cannot remove stale socket '%s' (%m)", path);
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errbuf_set(err, -errno, "socket: %m");
    /* Bind with a restrictive umask so the socket never exists with looser permissions. */
    mode_t old = umask(0177);
    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    umask(old);
    if (r < 0) {
        r = errbuf_set(err, -e, "cannot bind socket '%s' (%s)", path, strerror(e));
        goto fail;
    }
    if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) {
        r = errbuf_set(err, -errno, "cannot set the group of socket '%s' (%m)", path);
        goto fail_unlink;
    }
    if (chmod(path, mode) < 0) {
        r = errbuf_set(err, -errno, "cannot set the mode of socket '%s' (%m)", path);
        goto fail_unlink;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        r = errbuf_set(err, -errno, "cannot listen on '%s' (%m)", path);
        goto fail_unlink;
    }
    if (lstat(path, &st) < 0) {
        r = errbuf_set(err, -errno, "socket '%s' vanished (%m)", path);
        goto fail;
    }

    srv = xcalloc(1, sizeof(*srv));
    srv->lfd = fd;
    srv->dev = st.st_dev;
    srv->ino = st.st_ino;
made:
    srv->epfd = srv->sigfd = -1;
    srv->w.efd = -1;
    srv->hooks.wake_fd = -1;
    srv->path = xstrdup(path);
    srv->lim = *lim;
    *ret = srv;
    return 0;

fail_unlink:
    unlink(path);
fail:
    close(fd);
    return r;
}

void server_set_hooks(server_t *srv, const struct server_hooks *h)
{
    srv->hooks = *h;
}

void server_pipe_set_hook(server_pipe_hook fn, void *opaque)
{
    pipe_hook = fn;
    pipe_hook_opaque = opaque;
}

int server_run(server_t *srv, dispatch_t *d)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        return -errno;
    srv->d = d; /* stays set: server_free() ends the sessions still open */
    if (writer_start(srv) < 0) {
        log_err("server", "cannot start the writer thread: %m");
        return -errno;
    }
    dispatch_set_async(d, true);
    srv->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->sigfd < 0 || srv->epfd < 0) {
        log_err("server", "cannot set up the event loop: %m");
        return -errno;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->lfd};
    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev);
    ev.data.ptr = &srv->sigfd;
    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->sigfd, &ev);
    if (srv->hooks.wake_fd >= 0 && srv->hooks.wake) {
        ev.data.ptr = &srv->hooks.wake_fd;
        epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->hooks.wake_fd, &ev);
    }
    ev.data.ptr = &srv->w.efd;
    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->w.efd, &ev);

    log_info("server", "listening on '%s'%s", srv->path,
             srv->activated ? " (socket passed by the service manager)" : "");
    for (bool running = true; running;) {
        struct epoll_event evs[64];
        int n = epoll_wait(srv->epfd, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_err("server", "epoll_wait: %m");
            return -errno;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &srv->lfd) {
                accept_all(srv);
            } else if (p == &srv->w.efd) {
                writer_collect(srv, d);
            } else if (p == &srv->hooks.wake_fd) {
                uint64_t v;
                ssize_t rd = read(srv->hooks.wake_fd, &v, sizeof(v));
                (void)rd;
                srv->hooks.wake(srv->hooks.opaque);
            } else if (p == &srv->sigfd) {
                struct signalfd_siginfo si;
                while (read(srv->sigfd, &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGHUP) {
                        log_info("server", "SIGHUP received: reloading the store");
                        if (srv->hooks.sighup)
                            srv->hooks.sighup(srv->hooks.opaque);
                    } else {
                        log_info("server", "%s received, shutting down",
                                 strsignal((int)si.ssi_signo));
                        running = false;
                    }
                }
            } else {
                struct conn *c = p;
                if (c->parked) /* reported before it was parked; its turn comes later */
                    continue;
                if (evs[i].events & EPOLLOUT)
                    conn_serve(srv, d, c);
                else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    conn_read(srv, d, c);
            }
        }
    }
    return 0;
}

void server_free(server_t *srv)
{
    if (!srv)
        return;
    writer_stop(srv);
    while (srv->conns)
        conn_close(srv, srv->conns);
    struct stat st;
    /* Remove the socket only if it is still ours, not one a newer instance created (nor the
     * service manager's, which outlives us). */
    if (!srv->activated && lstat(srv->path, &st) == 0 && st.st_dev == srv->dev &&
        st.st_ino == srv->ino)
        unlink(srv->path);
    if (srv->lfd >= 0)
        close(srv->lfd);
    if (srv->epfd >= 0)
        close(srv->epfd);
    if (srv->sigfd >= 0)
        close(srv->sigfd);
    free(srv->path);
    free(srv);
}
