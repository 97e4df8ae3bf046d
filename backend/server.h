/* SPDX-License-Identifier: MIT */
/* The I/O shell around dispatch: the pipe loop (pdns spawned us; stdin/stdout) and the unix
 * socket event loop (we listen; pdns connects once per backend instance). Runs on the main
 * thread; logs its own errors. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "backend/dispatch.h"
#include "common/errbuf.h"

struct server_limits {
    size_t max_line;    /* longest request line accepted, bytes */
    unsigned max_conns; /* concurrent unix connections */
};

#define SERVER_DEFAULT_MAX_LINE  (16u * 1024 * 1024)
#define SERVER_DEFAULT_MAX_CONNS 1024u

/* Serves requests from in_fd, writing replies to out_fd, until EOF on in_fd. Never exits on bad
 * input. Returns 0 at EOF, -errno on a fatal write error (the peer is gone). */
int server_run_pipe(dispatch_t *d, int in_fd, int out_fd, const struct server_limits *lim);

typedef struct server server_t;

/* systemd socket activation (sd_listen_fds(3)): the number of listening sockets passed to
 * process `self` from the LISTEN_PID and LISTEN_FDS values (either may be NULL), starting at
 * fd 3; 0 when none were passed to us (unset, or meant for another process), -EINVAL when the
 * values are malformed. Pure. */
int server_listen_fds(const char *listen_pid, const char *listen_fds, pid_t self);

/* Creates the listening socket at path with the given mode (and group, when gid != -1).
 * A path that is too long, a live socket already at path (another daemon) and a non-socket file
 * in the way are errors; a stale socket left by a dead process is replaced.
 * Socket activation: when the environment passes a listening socket (LISTEN_PID/LISTEN_FDS, as
 * systemd's pdns-failover.socket does), that socket is used instead; it must be a unix stream
 * socket bound to `path`, not writable by every user, and it is left in place at exit. Held by
 * systemd across restarts, it keeps pdns's connections waiting instead of failing while the
 * daemon restarts. */
int server_listen(const char *path,
                  mode_t mode,
                  gid_t gid,
                  const struct server_limits *lim,
                  server_t **ret,
                  struct errbuf *err);
/* Hooks the event loop calls on its thread, between requests: on SIGHUP, and when wake_fd (an
 * eventfd, or -1 for none) becomes readable (after it was drained). Any may be NULL. */
struct server_hooks {
    void (*sighup)(void *opaque);
    int wake_fd;
    void (*wake)(void *opaque);
    void *opaque;
};
void server_set_hooks(server_t *srv, const struct server_hooks *h);
/* Runs the event loop until SIGINT/SIGTERM; then closes everything and removes the socket. */
int server_run(server_t *srv, dispatch_t *d);
/* Pipe mode: called before each batch of requests is answered (to swap in a reloaded store). */
typedef void (*server_pipe_hook)(void *opaque);
void server_pipe_set_hook(server_pipe_hook fn, void *opaque);
void server_free(server_t *srv);
