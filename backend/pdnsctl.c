/* SPDX-License-Identifier: MIT */
/* PowerDNS control socket client (see pdnsctl.h for the protocol).
 *
 * DESIGN: one deadline for the whole exchange. connect() on a unix socket blocks only while the
 * listener's backlog is full, and then honours SO_SNDTIMEO, so it runs blocking with the time
 * left; after that the socket is non-blocking and every wait is a poll() up to the deadline. */
#include "backend/pdnsctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Bytes asked of each recv(); a typical reply ("Ok ...", a purge count) fits many times over. */
#define RECV_CHUNK 65536u

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pdnsctl_socket_path(const char *arg, struct sbuf *out)
{
    size_t n = strlen(arg);
    struct stat st;
    sbuf_reset(out);
    if (!(n && arg[n - 1] == '/') && !(stat(arg, &st) == 0 && S_ISDIR(st.st_mode))) {
        sbuf_put(out, arg, n);
        return;
    }
    while (n > 1 && arg[n - 1] == '/')
        n--;
    sbuf_put(out, arg, n);
    if (arg[n - 1] != '/')
        sbuf_putc(out, '/');
    sbuf_puts(out, PDNSCTL_SOCKET_NAME);
}

/* The request bytes: the command and its newline. pdns splits the line on spaces and would read
 * a second line as nothing at all, so a command must be one printable line. */
static int
encode_request(const char *path, const char *command, struct sbuf *out, struct errbuf *err)
{
    size_t n = strlen(command);
    bool blank = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)command[i];
        if (c < 0x20 || c == 0x7f)
            return errbuf_set(err, -EINVAL,
                              "pdns control socket '%s': command '%.80s' contains a control "
                              "character (byte %zu)",
                              path, command, i);
        if (c != ' ')
            blank = false;
    }
    if (blank)
        return errbuf_set(err, -EINVAL, "pdns control socket '%s': empty command", path);
    if (n > PDNSCTL_COMMAND_MAX)
        return errbuf_set(err, -EINVAL,
                          "pdns control socket '%s': command '%.40s...' is %zu bytes, longer "
                          "than the %u pdns reads",
                          path, command, n, PDNSCTL_COMMAND_MAX);
    sbuf_reset(out);
    sbuf_put(out, command, n);
    sbuf_putc(out, '\n');
    return 0;
}

/* pdns has no status; this is pdns_control's rule ("Unknown command: 'X'", and show's "Unknown"
 * for a variable it does not have). */
static bool reply_rejected(const char *text)
{
    return strncmp(text, "Unknown", 7) == 0;
}

static void strip_trailing_newlines(struct sbuf *b)
{
    size_t n = b->len;
    while (n && (b->p[n - 1] == '\n' || b->p[n - 1] == '\r'))
        n--;
    sbuf_truncate(b, n);
}

/* 0 once fd is ready for events (or has an error or hangup for the next call to report),
 * -ETIMEDOUT at the deadline. */
static int wait_for(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int connect_until(int fd, const struct sockaddr_un *sa, socklen_t len, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
            return -errno;
        if (connect(fd, (const struct sockaddr *)sa, len) == 0)
            return 0;
        /* A blocking unix connect() fails with EAGAIN when the backlog stayed full until the
         * send timeout. */
        if (errno == EAGAIN)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

static const char *connect_hint(const char *path, int e)
{
    struct stat st;
    switch (e) {
    case -ENOENT:
        return " (is pdns_server running, with this socket-dir?)";
    case -ECONNREFUSED:
        /* connect() says the same of a file that is no socket at all. */
        if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
            return S_ISDIR(st.st_mode) ? " (a directory, not pdns's socket)" : " (not a socket)";
        return " (nothing listens: pdns_server stopped and left its socket behind)";
    case -EACCES:
        return " (this user may not write to pdns's socket or its directory)";
    default:
        return "";
    }
}

static int send_all(int fd, const struct sbuf *req, int64_t deadline)
{
    size_t off = 0;
    while (off < req->len) {
        ssize_t n = send(fd, req->p + off, req->len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return -errno;
        int r = wait_for(fd, POLLOUT, deadline);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Reads until pdns closes: end of file is the only end of a reply. */
static int recv_all(int fd, struct sbuf *reply, int64_t deadline)
{
    for (;;) {
        sbuf_reserve(reply, RECV_CHUNK);
        ssize_t n = recv(fd, reply->p + reply->len, RECV_CHUNK, 0);
        if (n == 0)
            return 0;
        if (n > 0) {
            reply->len += (size_t)n;
            reply->p[reply->len] = '\0';
            if (reply->len > PDNSCTL_REPLY_MAX)
                return -EMSGSIZE;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int r = wait_for(fd, POLLIN, deadline);
        if (r < 0)
            return r;
    }
}

int pdnsctl_command(
    const char *path, const char *command, int timeout_ms, struct sbuf *reply, struct errbuf *err)
{
    struct sbuf req = SBUF_INIT;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t plen = strlen(path);
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int fd = -1, r;

    sbuf_reset(reply);
    if (timeout_ms <= 0) {
        r = errbuf_set(err, -EINVAL, "pdns control socket '%s': timeout %d ms is not positive",
                       path, timeout_ms);
        goto out;
    }
    if (plen == 0 || plen >= sizeof(sa.sun_path)) {
        r = errbuf_set(err, plen ? -ENAMETOOLONG : -EINVAL,
                       "pdns control socket '%s': a unix socket path has 1 to %zu bytes, this "
                       "has %zu",
                       path, sizeof(sa.sun_path) - 1, plen);
        goto out;
    }
    r = encode_request(path, command, &req, err);
    if (r < 0)
        goto out;
    memcpy(sa.sun_path, path, plen + 1);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = -errno;
        errbuf_set(err, r, "pdns control socket '%s': socket: %s", path, strerror(-r));
        goto out;
    }
    r = connect_until(fd, &sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1),
                      deadline);
    if (r == -ETIMEDOUT) {
        errbuf_set(err, r,
                   "pdns control socket '%s': not accepted within %d ms (pdns's control listener "
                   "is busy or stuck)",
                   path, timeout_ms);
        goto out;
    }
    if (r < 0) {
        errbuf_set(err, r, "pdns control socket '%s': %s%s", path, strerror(-r),
                   connect_hint(path, r));
        goto out;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        r = -errno;
        errbuf_set(err, r, "pdns control socket '%s': fcntl: %s", path, strerror(-r));
        goto out;
    }

    r = send_all(fd, &req, deadline);
    if (r == 0)
        r = recv_all(fd, reply, deadline);
    if (r == -ETIMEDOUT) {
        /* A partial reply is no reply: pdns writes all of it and closes at once. */
        sbuf_reset(reply);
        errbuf_set(err, r,
                   "pdns control socket '%s': no reply to '%.80s' within %d ms (pdns's control "
                   "listener is busy or stuck, or the command failed inside pdns, which then "
                   "never answers: a malformed name does that)",
                   path, command, timeout_ms);
    } else if (r == -EMSGSIZE) {
        sbuf_reset(reply);
        errbuf_set(err, r, "pdns control socket '%s': reply to '%.80s' is longer than %u bytes",
                   path, command, PDNSCTL_REPLY_MAX);
    } else if (r < 0) {
        sbuf_reset(reply);
        errbuf_set(err, r, "pdns control socket '%s': '%.80s' not delivered: %s", path, command,
                   strerror(-r));
    } else {
        strip_trailing_newlines(reply);
        if (reply_rejected(sbuf_str(reply)))
            r = errbuf_set(err, -EIO, "pdns control socket '%s': pdns rejected '%.80s': %.200s",
                           path, command, sbuf_str(reply));
    }

out:
    if (fd >= 0)
        close(fd);
    sbuf_free(&req);
    return r;
}
