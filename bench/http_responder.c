/* SPDX-License-Identifier: MIT */
/* http_responder: the health endpoint for the probe benchmarks (bench/scale-probes,
 * bench/failover-timing). One thread, epoll, non-blocking sockets. For every connection it reads
 * the request up to the blank line, writes
 *
 *     HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok
 *
 * and closes. Nothing else: no keep-alive, no parsing beyond the end of the headers, any path.
 *
 *   http_responder [--addr ADDR] [--port PORT] [--stats SEC]
 *
 * --addr defaults to 0.0.0.0, so on Linux it answers on every 127.x.y.z (all of 127/8 reaches
 * lo). --port 0 picks a free port. On start it prints "listening ADDR:PORT" to stdout; with
 * --stats it then prints "stats T_MS SERVED ERRORS OPEN" every SEC seconds (T_MS on
 * CLOCK_MONOTONIC, SERVED and ERRORS cumulative), so a script can compute the rate it was
 * probed at. SIGTERM/SIGINT end it (exit 0) with a final stats line. Needs nothing but libc. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define REQ_MAX    4096 /* a request longer than this (headers) is answered anyway */

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

struct conn {
    int fd;
    size_t len;   /* request bytes kept (only the tail matters: looking for \r\n\r\n) */
    char tail[4]; /* last bytes seen, for a terminator split across reads */
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: http_responder [--addr ADDR] [--port PORT] [--stats SEC]\n"
               "Answers every HTTP request with 200 \"ok\" and closes the connection.\n");
}

/* True once the headers are complete: "\r\n\r\n" in tail+data. */
static bool saw_end(struct conn *c, const char *data, size_t n)
{
    char buf[4 + 512];
    size_t keep = c->len < 4 ? c->len : 4;
    size_t take = n < 512 ? n : 512;
    bool found = false;

    /* The terminator lies in the old tail plus the new data's first bytes, or inside the data. */
    memcpy(buf, c->tail + (4 - keep), keep);
    memcpy(buf + keep, data, take);
    if (memmem(buf, keep + take, "\r\n\r\n", 4) || memmem(data, n, "\r\n\r\n", 4))
        found = true;
    if (n >= 4) {
        memcpy(c->tail, data + n - 4, 4);
    } else {
        memmove(c->tail, c->tail + n, 4 - n);
        memcpy(c->tail + 4 - n, data, n);
    }
    c->len += n;
    return found;
}

int main(int argc, char **argv)
{
    const char *addr = "0.0.0.0";
    unsigned port = 0;
    double stats_every = 0;
    static const struct option longopts[] = {
        {"addr", required_argument, NULL, 'a'},
        {"port", required_argument, NULL, 'p'},
        {"stats", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;

    while ((o = getopt_long(argc, argv, "a:p:s:h", longopts, NULL)) != -1) {
        switch (o) {
        case 'a':
            addr = optarg;
            break;
        case 'p':
            port = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 's':
            stats_every = strtod(optarg, NULL);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || port > 65535) {
        usage(stderr);
        return 2;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
        fprintf(stderr, "http_responder: '%s' is not an IPv4 address\n", addr);
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 65535) < 0)
    {
        fprintf(stderr, "http_responder: cannot listen on %s:%u: %s\n", addr, port,
                strerror(errno));
        return 1;
    }
    socklen_t sl = sizeof(sin);
    getsockname(lfd, (struct sockaddr *)&sin, &sl);
    printf("listening %s:%u\n", addr, (unsigned)ntohs(sin.sin_port));
    fflush(stdout);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        fprintf(stderr, "http_responder: epoll: %s\n", strerror(errno));
        return 1;
    }

    uint64_t served = 0, errors = 0;
    long open_conns = 0;
    int64_t next_stats = stats_every > 0 ? mono_ms() + (int64_t)(stats_every * 1000) : INT64_MAX;
    struct epoll_event evs[MAX_EVENTS];

    while (!stop_flag) {
        int timeout = -1;
        if (next_stats != INT64_MAX) {
            int64_t d = next_stats - mono_ms();
            timeout = d < 0 ? 0 : (int)d;
        }
        int n = epoll_wait(ep, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "http_responder: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        for (int k = 0; k < n; k++) {
            struct conn *c = evs[k].data.ptr;
            if (!c) { /* the listener: accept everything pending */
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                            errno != ECONNABORTED)
                            errors++; /* EMFILE and the like: the client times out */
                        break;
                    }
                    c = calloc(1, sizeof(*c));
                    if (!c) {
                        close(fd);
                        errors++;
                        continue;
                    }
                    c->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) {
                        close(fd);
                        free(c);
                        errors++;
                        continue;
                    }
                    open_conns++;
                }
                continue;
            }
            char buf[REQ_MAX];
            bool done = false, answer = false;
            for (;;) {
                ssize_t r = read(c->fd, buf, sizeof(buf));
                if (r > 0) {
                    if (saw_end(c, buf, (size_t)r) || c->len >= REQ_MAX) {
                        done = answer = true;
                        break;
                    }
                    continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    break;
                if (r < 0 && errno == EINTR)
                    continue;
                done = true; /* EOF or error before a whole request */
                errors++;
                break;
            }
            if (answer) {
                ssize_t w = write(c->fd, RESPONSE, sizeof(RESPONSE) - 1);
                if (w == (ssize_t)(sizeof(RESPONSE) - 1))
                    served++;
                else
                    errors++;
            }
            if (done) {
                close(c->fd); /* also removes it from the epoll set */
                free(c);
                open_conns--;
            }
        }
        if (next_stats != INT64_MAX && mono_ms() >= next_stats) {
            printf("stats %" PRId64 " %" PRIu64 " %" PRIu64 " %ld\n", mono_ms(), served, errors,
                   open_conns);
            fflush(stdout);
            next_stats += (int64_t)(stats_every * 1000);
        }
    }
    printf("stats %" PRId64 " %" PRIu64 " %" PRIu64 " %ld\n", mono_ms(), served, errors,
           open_conns);
    fflush(stdout);
    return 0;
}
