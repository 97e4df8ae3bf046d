/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/pdnsctl: the client against a fake pdns control socket, a thread that
 * speaks pdns 4.7's protocol (read one line, write the text, close) or misbehaves, on a unix
 * socket in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/pdnsctl.h"

/* Short enough to keep the timeout tests quick, long enough for a loaded (or valgrind) run to
 * finish the exchanges that should succeed. */
#define TIMEOUT_MS   300
#define LONG_TIMEOUT 10000
/* The fake server gives up on a client after this long, so a broken client cannot hang a test. */
#define FAKE_PATIENCE_S 10

enum fake_mode {
    FAKE_REPLY,         /* pdns: read the line, write the reply, close */
    FAKE_CLOSE_AT_ONCE, /* accept and close without reading */
    FAKE_SILENT,        /* read the line, then wait for the client to give up */
    FAKE_FLOOD,         /* read the line, then write more than PDNSCTL_REPLY_MAX bytes */
};

struct fake {
    char dir[64];
    char path[128];
    int lfd;
    pthread_t thread;
    bool running;
    enum fake_mode mode;
    const char *reply;
    size_t reply_len;
    char request[256];
    size_t request_len;
    bool client_hung_up;
    struct sbuf out;
    struct errbuf err;
};

static void set_patience(int fd)
{
    struct timeval tv = {.tv_sec = FAKE_PATIENCE_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Reads up to and including the first newline, as pdns's fgets() does. */
static void read_request(struct fake *f, int cfd)
{
    while (f->request_len < sizeof(f->request) - 1) {
        ssize_t n = recv(cfd, f->request + f->request_len, 1, 0);
        if (n <= 0)
            break;
        f->request_len++;
        if (f->request[f->request_len - 1] == '\n')
            break;
    }
    f->request[f->request_len] = '\0';
}

static void send_all(int cfd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(cfd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void *serve(void *arg)
{
    struct fake *f = arg;
    int cfd = accept(f->lfd, NULL, NULL);
    if (cfd < 0)
        return NULL;
    set_patience(cfd);
    if (f->mode != FAKE_CLOSE_AT_ONCE)
        read_request(f, cfd);
    if (f->mode == FAKE_REPLY) {
        send_all(cfd, f->reply, f->reply_len);
    } else if (f->mode == FAKE_SILENT) {
        char c;
        f->client_hung_up = recv(cfd, &c, 1, 0) == 0;
    } else if (f->mode == FAKE_FLOOD) {
        static char chunk[65536];
        memset(chunk, 'x', sizeof(chunk));
        for (size_t sent = 0; sent <= PDNSCTL_REPLY_MAX; sent += sizeof(chunk)) {
            if (send(cfd, chunk, sizeof(chunk), MSG_NOSIGNAL) != (ssize_t)sizeof(chunk))
                break;
        }
    }
    close(cfd);
    return NULL;
}

static void fake_start_n(struct fake *f, enum fake_mode mode, const char *reply, size_t len)
{
    f->mode = mode;
    f->reply = reply;
    f->reply_len = len;
    f->request_len = 0;
    f->request[0] = '\0';
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
    f->running = true;
}

static void fake_start(struct fake *f, enum fake_mode mode, const char *reply)
{
    fake_start_n(f, mode, reply, reply ? strlen(reply) : 0);
}

static void fake_join(struct fake *f)
{
    if (f->running)
        assert_int_equal(pthread_join(f->thread, NULL), 0);
    f->running = false;
}

static int setup(void **state)
{
    struct fake *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/pf-pdnsctl-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, PDNSCTL_SOCKET_NAME);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 10), 0);
    set_patience(f->lfd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fake *f = *state;
    char cmd[128];
    fake_join(f);
    if (f->lfd >= 0)
        close(f->lfd);
    sbuf_free(&f->out);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("'%s' does not contain '%s'", text, part);
}

/* Runs command against path, which must fail with want and a message naming path and saying
 * part. */
static void expect_error(struct fake *f,
                         const char *path,
                         const char *command,
                         int timeout_ms,
                         int want,
                         const char *part)
{
    assert_int_equal(pdnsctl_command(path, command, timeout_ms, &f->out, &f->err), want);
    assert_contains(f->err.msg, path);
    assert_contains(f->err.msg, part);
}

/* One well-behaved exchange: the fake answers reply to whatever it reads. */
static int exchange(struct fake *f, const char *reply, const char *command)
{
    fake_start(f, FAKE_REPLY, reply);
    int r = pdnsctl_command(f->path, command, LONG_TIMEOUT, &f->out, &f->err);
    fake_join(f);
    return r;
}

static void test_pdnsctl_sends_one_line_and_returns_the_reply(void **state)
{
    struct fake *f = *state;
    assert_int_equal(
        exchange(f, "Ok Done parsing domains, 0 rejected, 0 new, 0 removed", "rediscover"), 0);
    assert_string_equal(f->request, "rediscover\n");
    assert_string_equal(sbuf_str(&f->out), "Ok Done parsing domains, 0 rejected, 0 new, 0 removed");
}

static void test_pdnsctl_passes_arguments_verbatim(void **state)
{
    struct fake *f = *state;
    assert_int_equal(exchange(f, "2", "purge example.com$ www.example.com"), 0);
    assert_string_equal(f->request, "purge example.com$ www.example.com\n");
    assert_string_equal(sbuf_str(&f->out), "2");
}

static void test_pdnsctl_strips_trailing_newlines_from_the_reply(void **state)
{
    struct fake *f = *state;
    /* bind-reload-now is one of the few pdns commands whose reply ends in a newline. */
    assert_int_equal(exchange(f, "example.com no such domain\n", "bind-reload-now example.com"), 0);
    assert_string_equal(sbuf_str(&f->out), "example.com no such domain");
    assert_int_equal(exchange(f, "a\r\n\n", "bind-reload-now a"), 0);
    assert_string_equal(sbuf_str(&f->out), "a");
}

static void test_pdnsctl_accepts_an_empty_reply(void **state)
{
    struct fake *f = *state;
    /* pdns answers qtypes with nothing at all before any query: closing is the whole reply. */
    sbuf_puts(&f->out, "stale");
    assert_int_equal(exchange(f, "", "qtypes"), 0);
    assert_string_equal(sbuf_str(&f->out), "");
}

static void test_pdnsctl_reads_a_reply_longer_than_one_chunk(void **state)
{
    struct fake *f = *state;
    size_t n = 300000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    fake_start_n(f, FAKE_REPLY, big, n);
    assert_int_equal(pdnsctl_command(f->path, "show *", LONG_TIMEOUT, &f->out, &f->err), 0);
    fake_join(f);
    assert_int_equal(f->out.len, n);
    assert_memory_equal(f->out.p, big, n);
    free(big);
}

static void test_pdnsctl_reports_an_unknown_command_as_rejected(void **state)
{
    struct fake *f = *state;
    assert_int_equal(exchange(f, "Unknown command: 'FROBNICATE'", "frobnicate"), -EIO);
    assert_string_equal(sbuf_str(&f->out), "Unknown command: 'FROBNICATE'");
    assert_contains(f->err.msg, f->path);
    assert_contains(f->err.msg, "rejected 'frobnicate': Unknown command: 'FROBNICATE'");
}

static void test_pdnsctl_leaves_other_complaints_to_the_caller(void **state)
{
    struct fake *f = *state;
    /* pdns_control exits 0 on this too: there is no status to tell it from an answer. */
    assert_int_equal(exchange(f, "syntax: notify zone", "notify"), 0);
    assert_string_equal(sbuf_str(&f->out), "syntax: notify zone");
}

static void test_pdnsctl_names_the_path_of_a_missing_socket(void **state)
{
    struct fake *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/nothing/pdns.controlsocket", f->dir);
    sbuf_puts(&f->out, "stale");
    expect_error(f, path, "rediscover", LONG_TIMEOUT, -ENOENT, "is pdns_server running");
    assert_string_equal(sbuf_str(&f->out), "");
}

static void test_pdnsctl_reports_a_socket_nobody_listens_on(void **state)
{
    struct fake *f = *state;
    /* What a stopped pdns_server leaves behind: the file, no listener. */
    close(f->lfd);
    f->lfd = -1;
    expect_error(f, f->path, "rediscover", LONG_TIMEOUT, -ECONNREFUSED, "nothing listens");
}

static void test_pdnsctl_says_when_the_path_is_no_socket(void **state)
{
    struct fake *f = *state;
    expect_error(f, f->dir, "rediscover", LONG_TIMEOUT, -ECONNREFUSED,
                 "a directory, not pdns's socket");
}

static void test_pdnsctl_fails_when_the_server_closes_before_reading(void **state)
{
    struct fake *f = *state;
    fake_start(f, FAKE_CLOSE_AT_ONCE, NULL);
    int r = pdnsctl_command(f->path, "rediscover", LONG_TIMEOUT, &f->out, &f->err);
    fake_join(f);
    /* Which one depends on whether the command was queued before the close. */
    if (r != -EPIPE && r != -ECONNRESET)
        fail_msg("got %d (%s), want -EPIPE or -ECONNRESET", r, f->err.msg);
    assert_contains(f->err.msg, f->path);
    assert_contains(f->err.msg, "'rediscover' not delivered");
}

static void test_pdnsctl_gives_up_on_a_server_that_never_answers(void **state)
{
    struct fake *f = *state;
    fake_start(f, FAKE_SILENT, NULL);
    expect_error(f, f->path, "purge ..bad$", TIMEOUT_MS, -ETIMEDOUT,
                 "no reply to 'purge ..bad$' within 300 ms");
    fake_join(f);
    assert_string_equal(f->request, "purge ..bad$\n");
    assert_true(f->client_hung_up);
}

static void test_pdnsctl_gives_up_when_the_listener_backlog_is_full(void **state)
{
    struct fake *f = *state;
    /* A listener that never accepts, with a backlog of one connection, already taken: what a
     * stuck pdns looks like to the eleventh client. */
    assert_int_equal(listen(f->lfd, 0), 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, f->path);
    int first = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(first, (struct sockaddr *)&sa, sizeof(sa)), 0);
    expect_error(f, f->path, "rediscover", TIMEOUT_MS, -ETIMEDOUT, "not accepted within 300 ms");
    close(first);
}

static void test_pdnsctl_refuses_a_reply_over_the_limit(void **state)
{
    struct fake *f = *state;
    fake_start(f, FAKE_FLOOD, NULL);
    expect_error(f, f->path, "list-zones", LONG_TIMEOUT, -EMSGSIZE,
                 "reply to 'list-zones' is longer than");
    fake_join(f);
    assert_string_equal(sbuf_str(&f->out), "");
}

static void test_pdnsctl_rejects_a_path_too_long_for_a_unix_socket(void **state)
{
    struct fake *f = *state;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    expect_error(f, path, "rediscover", LONG_TIMEOUT, -ENAMETOOLONG,
                 "1 to 107 bytes, this has 115");
}

static void test_pdnsctl_rejects_bad_commands_without_connecting(void **state)
{
    struct fake *f = *state;
    static const char *const bad[] = {"", "   ", "purge a$\nquit", "rediscover\r", "a\tb"};
    /* No server thread: had anything been sent, the call would wait LONG_TIMEOUT for a reply. */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_error(f, f->path, bad[i], LONG_TIMEOUT, -EINVAL, "command");
    }
    expect_error(f, f->path, "rediscover", 0, -EINVAL, "timeout 0 ms is not positive");
    char *huge = malloc(PDNSCTL_COMMAND_MAX + 2);
    memset(huge, 'a', PDNSCTL_COMMAND_MAX + 1);
    huge[PDNSCTL_COMMAND_MAX + 1] = '\0';
    expect_error(f, f->path, huge, LONG_TIMEOUT, -EINVAL, "longer than the 1023998 pdns reads");
    free(huge);
}

static void test_pdnsctl_socket_path_joins_a_directory(void **state)
{
    struct fake *f = *state;
    char want[160], arg[96];
    snprintf(want, sizeof(want), "%s/pdns.controlsocket", f->dir);
    pdnsctl_socket_path(f->dir, &f->out);
    assert_string_equal(sbuf_str(&f->out), want);
    snprintf(arg, sizeof(arg), "%s//", f->dir);
    pdnsctl_socket_path(arg, &f->out);
    assert_string_equal(sbuf_str(&f->out), want);
    pdnsctl_socket_path("/run/pdns-not-yet/", &f->out);
    assert_string_equal(sbuf_str(&f->out), "/run/pdns-not-yet/pdns.controlsocket");
    pdnsctl_socket_path("/", &f->out);
    assert_string_equal(sbuf_str(&f->out), "/pdns.controlsocket");
}

static void test_pdnsctl_socket_path_keeps_a_socket_file(void **state)
{
    struct fake *f = *state;
    pdnsctl_socket_path(f->path, &f->out);
    assert_string_equal(sbuf_str(&f->out), f->path);
    pdnsctl_socket_path("/run/pdns/pdns-other.controlsocket", &f->out);
    assert_string_equal(sbuf_str(&f->out), "/run/pdns/pdns-other.controlsocket");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pdnsctl_sends_one_line_and_returns_the_reply),
        T(test_pdnsctl_passes_arguments_verbatim),
        T(test_pdnsctl_strips_trailing_newlines_from_the_reply),
        T(test_pdnsctl_accepts_an_empty_reply),
        T(test_pdnsctl_reads_a_reply_longer_than_one_chunk),
        T(test_pdnsctl_reports_an_unknown_command_as_rejected),
        T(test_pdnsctl_leaves_other_complaints_to_the_caller),
        T(test_pdnsctl_names_the_path_of_a_missing_socket),
        T(test_pdnsctl_reports_a_socket_nobody_listens_on),
        T(test_pdnsctl_says_when_the_path_is_no_socket),
        T(test_pdnsctl_fails_when_the_server_closes_before_reading),
        T(test_pdnsctl_gives_up_on_a_server_that_never_answers),
        T(test_pdnsctl_gives_up_when_the_listener_backlog_is_full),
        T(test_pdnsctl_refuses_a_reply_over_the_limit),
        T(test_pdnsctl_rejects_a_path_too_long_for_a_unix_socket),
        T(test_pdnsctl_rejects_bad_commands_without_connecting),
        T(test_pdnsctl_socket_path_joins_a_directory),
        T(test_pdnsctl_socket_path_keeps_a_socket_file),
    };
    return cmocka_run_group_tests_name("pdnsctl", tests, NULL, NULL);
}
