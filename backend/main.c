/* SPDX-License-Identifier: MIT */
/* pdns-failover: command line, mode selection (pipe, unix socket, --check-config) and wiring.
 * The only file outside the core library. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sys/random.h>
#include <time.h>

#include "backend/dispatch.h"
#include "backend/pools.h"
#include "backend/server.h"
#include "backend/store.h"
#include "common/errlist.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "health/hmap.h"
#include "health/runner.h"

struct opts {
    const char *config;
    const char *listen;
    const char *check;
    const char *state_dir;
    mode_t socket_mode;
    gid_t socket_gid;
    struct server_limits lim;
};

/* The health checker of one store: the shared map and this process's probe thread. */
struct health {
    hmap_t *map;
    runner_t *runner;
};

/* The pipe co-process's store, replaceable by initialize's config= option. */
struct pipe_state {
    dispatch_t *d;
    store_t *store;
    char *path;
    const struct opts *o;
    struct health health;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: pdns-failover [OPTIONS]\n"
            "A PowerDNS remote backend (launch=remote) serving zones from a JSON store.\n"
            "\n"
            "Modes:\n"
            "  (default)              pipe mode: pdns runs us with\n"
            "                         remote-connection-string=pipe:command=/usr/bin/pdns-failover "
            "--config FILE\n"
            "  -l, --listen PATH      unix mode: listen on PATH for pdns's unix:path=PATH "
            "connector\n"
            "      --check-config FILE  validate a store file, print every error, exit 0 or 1\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE      the store file (pipe mode may instead get config=FILE in\n"
            "                         the connection string)\n"
            "      --socket-mode MODE  permissions of the unix socket (octal, default 0660)\n"
            "      --socket-group GRP  group of the unix socket (name or number)\n"
            "      --max-connections N  concurrent unix connections (default %u)\n"
            "      --max-line BYTES   longest request line accepted (default %u)\n"
            "      --state-dir DIR    where health states are kept and shared between processes\n"
            "                         (default /var/lib/pdns-failover if writable, else\n"
            "                         /tmp/pdns-failover-UID)\n"
            "  -d, --debug            log debug messages\n"
            "  -h, --help             this help\n"
            "  -V, --version          print the version\n"
            "\n"
            "Logs go to stderr; stdout carries nothing but protocol replies.\n",
            SERVER_DEFAULT_MAX_CONNS, SERVER_DEFAULT_MAX_LINE);
}

static int parse_ulong(const char *opt,
                       const char *s,
                       int base,
                       unsigned long min,
                       unsigned long max,
                       unsigned long *ret)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (!*s || *end || errno || *s == '-' || v < min || v > max) {
        fprintf(stderr, "pdns-failover: %s: '%s' is not a number from %lu to %lu\n", opt, s, min,
                max);
        return -EINVAL;
    }
    *ret = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { OPT_CHECK = 256, OPT_MODE, OPT_GROUP, OPT_MAXCONN, OPT_MAXLINE, OPT_STATE };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"check-config", required_argument, NULL, OPT_CHECK},
        {"socket-mode", required_argument, NULL, OPT_MODE},
        {"socket-group", required_argument, NULL, OPT_GROUP},
        {"max-connections", required_argument, NULL, OPT_MAXCONN},
        {"max-line", required_argument, NULL, OPT_MAXLINE},
        {"state-dir", required_argument, NULL, OPT_STATE},
        {"debug", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    unsigned long v;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:l:dhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'l':
            o->listen = optarg;
            break;
        case OPT_CHECK:
            o->check = optarg;
            break;
        case OPT_MODE:
            if (parse_ulong("--socket-mode", optarg, 8, 0, 0777, &v) < 0)
                return 2;
            o->socket_mode = (mode_t)v;
            break;
        case OPT_GROUP: {
            struct group *g = getgrnam(optarg);
            if (g) {
                o->socket_gid = g->gr_gid;
            } else if (parse_ulong("--socket-group", optarg, 10, 0, INT_MAX, &v) == 0) {
                o->socket_gid = (gid_t)v;
            } else {
                fprintf(stderr, "pdns-failover: --socket-group: no group '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case OPT_MAXCONN:
            if (parse_ulong("--max-connections", optarg, 10, 1, 1000000, &v) < 0)
                return 2;
            o->lim.max_conns = (unsigned)v;
            break;
        case OPT_MAXLINE:
            if (parse_ulong("--max-line", optarg, 10, 1024, 1024UL * 1024 * 1024, &v) < 0)
                return 2;
            o->lim.max_line = v;
            break;
        case OPT_STATE:
            if (!*optarg) {
                fprintf(stderr, "pdns-failover: --state-dir: empty path\n");
                return 2;
            }
            o->state_dir = optarg;
            break;
        case 'd':
            log_set_debug(true);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("pdns-failover %s\n", PF_VERSION);
            exit(0);
        case ':':
            fprintf(stderr, "pdns-failover: option '%s' needs a value (see --help)\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "pdns-failover: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pdns-failover: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (o->check && (o->listen || o->config)) {
        fprintf(stderr, "pdns-failover: --check-config takes the file itself; it does not mix "
                        "with --config or --listen\n");
        return 2;
    }
    if (o->listen && !o->config) {
        fprintf(stderr, "pdns-failover: --listen needs --config FILE\n");
        return 2;
    }
    return 0;
}

static void log_errors(const char *path, const struct errlist *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        log_err("store", "%s: %s", path, errs->msgs[i]);
    if (errs->dropped)
        log_err("store", "%s: %zu more errors not shown", path, errs->dropped);
}

static int check_config(const char *path)
{
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    if (store_load_file(path, &s, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s: %s\n", path, errs.msgs[i]);
        if (errs.dropped)
            fprintf(stderr, "%s: %zu more errors not shown\n", path, errs.dropped);
        size_t n = errlist_count(&errs);
        fprintf(stderr, "%s: %zu error%s\n", path, n, n == 1 ? "" : "s");
        errlist_free(&errs);
        return 1;
    }
    printf("%s: OK, %zu zone%s, %zu record%s\n", path, store_zone_count(s),
           store_zone_count(s) == 1 ? "" : "s", store_record_count(s),
           store_record_count(s) == 1 ? "" : "s");
    store_free(s);
    return 0;
}

static const char *state_dir(const struct opts *o, char *buf, size_t cap)
{
    if (o->state_dir)
        return o->state_dir;
    if (access("/var/lib/pdns-failover", W_OK | X_OK) == 0)
        return "/var/lib/pdns-failover";
    snprintf(buf, cap, "/tmp/pdns-failover-%ld", (long)geteuid());
    return buf;
}

static void health_stop(struct health *h)
{
    runner_stop(h->runner);
    hmap_close(h->map);
    h->runner = NULL;
    h->map = NULL;
}

/* Starts health checking for store s (nothing to do without pools) and waits up to wait_ms for
 * the first round of probes, so that the first answers already follow health. On failure the
 * pools answer as if every member were up, and the error is logged. */
static void health_start(struct health *h, const store_t *s, const struct opts *o, int wait_ms)
{
    const struct store_pools *sp = store_pools(s);
    char buf[64];
    struct errbuf err;
    if (sp->ntargets == 0)
        return;
    const char *dir = state_dir(o, buf, sizeof(buf));
    if (hmap_open(dir, sp->targets, sp->ntargets, &h->map, &err) < 0) {
        log_err("health", "%s; pools answer as if every member were up", err.msg);
        return;
    }
    if (runner_start(sp->targets, sp->ntargets, h->map, NULL, &h->runner, &err) < 0) {
        log_err("health", "%s; pools answer as if every member were up", err.msg);
        hmap_close(h->map);
        h->map = NULL;
        return;
    }
    uint32_t longest = 0;
    for (size_t i = 0; i < sp->ntargets; i++)
        if (sp->targets[i].check->timeout_ms > longest)
            longest = sp->targets[i].check->timeout_ms;
    int wait = (int)longest + 200 < wait_ms ? (int)longest + 200 : wait_ms;
    if (!runner_wait_initial(h->runner, wait))
        log_info("health",
                 "first probe round not complete after %d ms; members without a "
                 "verdict count as up",
                 wait);
    log_debug("health", "%zu targets, state in '%s'", sp->ntargets, hmap_path(h->map));
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return seed;
}

static int pipe_load(void *opaque, const char *path, struct errlist *errs)
{
    struct pipe_state *ps = opaque;
    if (ps->store && ps->path && strcmp(ps->path, path) == 0)
        return 0;
    store_t *s = NULL;
    int r = store_load_file(path, &s, errs);
    if (r < 0) {
        log_errors(path, errs);
        return r;
    }
    /* The probe thread reads the old store's targets: stop it before freeing that store. */
    dispatch_set_health(ps->d, NULL, random_seed());
    health_stop(&ps->health);
    store_free(ps->store);
    free(ps->path);
    ps->store = s;
    ps->path = xstrdup(path);
    dispatch_set_store(ps->d, s);
    /* pdns waits at most its timeout (2 s by default) for each reply: stay well below it. */
    health_start(&ps->health, s, ps->o, 1000);
    dispatch_set_health(ps->d, ps->health.map, random_seed());
    log_debug("store", "%s: loaded %zu zones, %zu records", path, store_zone_count(s),
              store_record_count(s));
    malloc_trim(0); /* see run_unix() */
    return 0;
}

static int run_pipe(const struct opts *o)
{
    struct pipe_state ps = {.o = o};
    ps.d = dispatch_new(pipe_load, &ps);
    if (o->config) {
        struct errlist errs = ERRLIST_INIT;
        /* A broken store must not end the co-process: pdns would lose this thread for good
         * (protocol doc 2.3). Serve nothing and say why in the log instead. */
        if (pipe_load(&ps, o->config, &errs) < 0)
            log_err("store",
                    "%s: not loaded; answering nothing until it is fixed and pdns "
                    "restarts this backend",
                    o->config);
        errlist_free(&errs);
    }
    int r = server_run_pipe(ps.d, STDIN_FILENO, STDOUT_FILENO, &o->lim);
    health_stop(&ps.health);
    dispatch_free(ps.d);
    store_free(ps.store);
    free(ps.path);
    return r < 0 ? 1 : 0;
}

static int run_unix(const struct opts *o)
{
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    server_t *srv = NULL;
    struct errbuf err;
    struct health health = {0};
    int rc = 1;

    if (store_load_file(o->config, &s, &errs) < 0) {
        log_errors(o->config, &errs);
        log_err("main", "%s: %zu errors; not starting", o->config, errlist_count(&errs));
        goto out;
    }
    log_info("store", "%s: loaded %zu zones, %zu records", o->config, store_zone_count(s),
             store_record_count(s));
    /* Loading frees a lot of small blocks; consolidate them now rather than in the first
     * request's allocation (measured: ~100 ms for a 100k-record store). */
    malloc_trim(0);
    if (server_listen(o->listen, o->socket_mode, o->socket_gid, &o->lim, &srv, &err) < 0) {
        log_err("main", "%s", err.msg);
        goto out;
    }
    /* pdns connects only after we listen: the initial round can take the longest timeout. */
    health_start(&health, s, o, 10000);
    dispatch_t *d = dispatch_new(NULL, NULL);
    dispatch_set_store(d, s);
    dispatch_set_health(d, health.map, random_seed());
    rc = server_run(srv, d) < 0 ? 1 : 0;
    dispatch_free(d);
out:
    server_free(srv);
    health_stop(&health);
    store_free(s);
    errlist_free(&errs);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {
        .socket_mode = 0660,
        .socket_gid = (gid_t)-1,
        .lim = {.max_line = SERVER_DEFAULT_MAX_LINE, .max_conns = SERVER_DEFAULT_MAX_CONNS},
    };
    int r = parse_args(argc, argv, &o);
    if (r)
        return r;
    /* pdns ignores SIGPIPE before spawning us; do the same in every mode so a vanished peer is
     * an EPIPE error, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    if (o.check)
        return check_config(o.check);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        log_err("main", "libcurl could not be initialised");
        return 1;
    }
    if (o.listen)
        return run_unix(&o);
    return run_pipe(&o);
}
