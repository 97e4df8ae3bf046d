/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/server's socket activation: the LISTEN_PID/LISTEN_FDS rule (pure), and
 * server_listen() taking the listening socket a service manager passed as fd 3 (a real unix
 * socket in a temporary directory; no pdns, no event loop). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/server.h"
#include "common/errbuf.h"

static void test_listen_fds_rule(void **state)
{
    (void)state;
    assert_int_equal(server_listen_fds(NULL, NULL, 42), 0);
    assert_int_equal(server_listen_fds("42", NULL, 42), 0);
    assert_int_equal(server_listen_fds(NULL, "1", 42), 0);
    assert_int_equal(server_listen_fds("42", "1", 42), 1);
    assert_int_equal(server_listen_fds("42", "0", 42), 0);
    /* Passed to the process that started us (a wrapper that did not exec): not ours. */
    assert_int_equal(server_listen_fds("41", "1", 42), 0);
    assert_int_equal(server_listen_fds("41", "junk", 42), 0);
    assert_int_equal(server_listen_fds("", "1", 42), -EINVAL);
    assert_int_equal(server_listen_fds("4x", "1", 42), -EINVAL);
    assert_int_equal(server_listen_fds("-42", "1", 42), -EINVAL);
    assert_int_equal(server_listen_fds("0", "1", 42), -EINVAL);
    assert_int_equal(server_listen_fds("42", "", 42), -EINVAL);
    assert_int_equal(server_listen_fds("42", "-1", 42), -EINVAL);
    assert_int_equal(server_listen_fds("42", "1 ", 42), -EINVAL);
    assert_int_equal(server_listen_fds("42", "99999", 42), -EINVAL);
    assert_int_equal(server_listen_fds("99999999999999999999999", "1", 42), -EINVAL);
}

struct fixture {
    char dir[64];
    char path[128];
    int saved3; /* what fd 3 was before the test put the socket there (-1: nothing) */
};

/* A listening socket at dir/s.sock with `mode`, placed at fd 3 with the activation variables. */
static void activate(struct fixture *f, mode_t mode, const char *env_pid)
{
    strcpy(f->dir, "/tmp/pf-test-server-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/s.sock", f->dir);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, f->path);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(chmod(f->path, mode), 0);
    assert_int_equal(listen(s, 8), 0);
    f->saved3 = fcntl(3, F_GETFD) >= 0 ? dup(3) : -1;
    if (s != 3) {
        assert_int_equal(dup2(s, 3), 3);
        close(s);
    }
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("LISTEN_PID", env_pid ? env_pid : pid, 1);
    setenv("LISTEN_FDS", "1", 1);
}

static void deactivate(struct fixture *f)
{
    if (f->saved3 >= 0) {
        dup2(f->saved3, 3);
        close(f->saved3);
    } else {
        close(3);
    }
    unlink(f->path);
    rmdir(f->dir);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
}

static const struct server_limits lim = {.max_line = 65536, .max_conns = 4};

static void test_activation_uses_the_passed_socket_and_leaves_it(void **state)
{
    (void)state;
    struct fixture f;
    activate(&f, 0660, NULL);
    struct errbuf err = {0};
    server_t *srv = NULL;
    /* The mode and group options are the .socket unit's business then. */
    assert_int_equal(server_listen(f.path, 0600, (gid_t)-1, &lim, &srv, &err), 0);
    assert_non_null(srv);
    assert_null(getenv("LISTEN_PID"));
    assert_null(getenv("LISTEN_FDS"));
    assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
    /* A client can connect: the socket is the one passed (nothing was bound anew). */
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, f.path);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(c);
    struct stat st;
    assert_int_equal(stat(f.path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    /* At exit the socket stays: the service manager holds it for the next start. */
    int dup3 = dup(3);
    server_free(srv);
    assert_int_equal(stat(f.path, &st), 0);
    dup2(dup3, 3);
    close(dup3);
    deactivate(&f);
}

static void test_activation_refuses_what_does_not_fit(void **state)
{
    (void)state;
    struct fixture f;
    struct errbuf err = {0};
    server_t *srv = NULL;

    activate(&f, 0660, NULL);
    char other[160];
    snprintf(other, sizeof(other), "%s/other.sock", f.dir);
    assert_int_equal(server_listen(other, 0660, (gid_t)-1, &lim, &srv, &err), -EINVAL);
    assert_null(srv);
    assert_non_null(strstr(err.msg, "not --listen"));
    assert_non_null(strstr(err.msg, "s.sock"));
    deactivate(&f);

    activate(&f, 0666, NULL);
    assert_int_equal(server_listen(f.path, 0660, (gid_t)-1, &lim, &srv, &err), -EPERM);
    assert_non_null(strstr(err.msg, "writable by every user"));
    assert_non_null(strstr(err.msg, "SocketMode=0660"));
    deactivate(&f);

    activate(&f, 0660, "junk");
    assert_int_equal(server_listen(f.path, 0660, (gid_t)-1, &lim, &srv, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "malformed"));
    deactivate(&f);

    /* fd 3 not a socket. */
    activate(&f, 0660, NULL);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 3);
    close(null);
    assert_true(server_listen(f.path, 0660, (gid_t)-1, &lim, &srv, &err) < 0);
    assert_non_null(strstr(err.msg, "not a socket"));
    deactivate(&f);
}

static void test_variables_for_another_process_are_ignored(void **state)
{
    (void)state;
    struct fixture f;
    activate(&f, 0660, "1"); /* init's, say: not ours */
    char own[160];
    snprintf(own, sizeof(own), "%s/own.sock", f.dir);
    struct errbuf err = {0};
    server_t *srv = NULL;
    assert_int_equal(server_listen(own, 0640, (gid_t)-1, &lim, &srv, &err), 0);
    struct stat st;
    assert_int_equal(stat(own, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    server_free(srv); /* our own socket: removed at exit */
    assert_int_equal(stat(own, &st), -1);
    deactivate(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_fds_rule),
        cmocka_unit_test(test_activation_uses_the_passed_socket_and_leaves_it),
        cmocka_unit_test(test_activation_refuses_what_does_not_fit),
        cmocka_unit_test(test_variables_for_another_process_are_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
