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
#include <sys/resource.h>
#include <time.h>

#include <json-c/json.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "backend/commands.h"
#include <pthread.h>
#include <stdatomic.h>

#include "backend/dispatch.h"
#include "backend/metrics.h"
#include "backend/metrics_http.h"
#include "backend/pools.h"
#include "backend/reloader.h"
#include "backend/server.h"
#include "backend/store.h"
#include "common/errlist.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "health/hmap.h"
#include "health/notify.h"
#include "health/overrides.h"
#include "health/runner.h"
#include "backend/cli.h"
#include "backend/purger.h"
#include "backend/purgeset.h"
#include "backend/commit.h"

struct opts {
    const char *config;
    const char *listen;
    const char *check;
    const char *state_dir;
    const char *metrics;
    bool syslog;
    bool verbose; /* --verbose-replies (benchmarks) */
    bool allow_root;
    mode_t socket_mode;
    gid_t socket_gid;
    struct server_limits lim;
    struct store_limits store_lim;
};

/* The health checker of one store: the shared map and this process's probe thread. */
struct health {
    hmap_t *map;
    runner_t *runner;
    overrides_t *overrides;
    notify_t *notify;
    char **pools_of, **members_of; /* per target: "web,api" and "web1,a1", for notifications */
    size_t ntargets;
    purgeset_t *ps;   /* purge mode: what each transition purges */
    purger_t *purger; /* the app's, borrowed; NULL: not in purge mode */
};

/* The pipe co-process's store, replaceable by initialize's config= option. */
/* What one process serves: the store, its health checking and reloads (either mode). */
struct app {
    dispatch_t *d;
    store_t *store;
    char *path;
    const struct opts *o;
    struct health health;
    reloader_t *rl;
    _Atomic uint64_t generation;
    pthread_mutex_t swap_lock; /* the health member: swapped on the answering thread, retired
                                  from the reloader thread, read by the purger's tick */
    purger_t *purger;          /* purge mode: the store names pdns's control socket */
    uint64_t overrides_fp;     /* the purger tick's: overrides in effect when last looked */
    bool have_overrides_fp;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: pdns-failover [OPTIONS]\n"
            "       pdns-failover ctl [--socket PATH | --config FILE] COMMAND  (see ctl --help)\n"
            "       pdns-failover zone add|delete|list ...  (see zone --help)\n"
            "       pdns-failover fmt [--check] FILE\n"
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
            "      --max-store-bytes BYTES  largest store file loaded (default %llu)\n"
            "      --max-members N    members of one pool (default and most %u)\n"
            "      --allow-root       run as root (refused otherwise: run as the pdns user,\n"
            "                         or a user of its own in the socket's group)\n"
            "      --metrics ADDR:PORT  serve Prometheus /metrics, /status and /healthz there\n"
            "      --state-dir DIR    where health states are kept and shared between processes\n"
            "                         (default /var/lib/pdns-failover if writable, else\n"
            "                         /tmp/pdns-failover-UID)\n"
            "      --syslog           log to syslog (daemon facility) instead of stderr\n"
            "      --verbose-replies  benchmarks only: send every optional record field\n"
            "  -d, --debug            log debug messages\n"
            "  -h, --help             this help\n"
            "  -V, --version          print the version\n"
            "\n"
            "Logs go to stderr; stdout carries nothing but protocol replies.\n",
            SERVER_DEFAULT_MAX_CONNS, SERVER_DEFAULT_MAX_LINE, STORE_DEFAULT_MAX_BYTES,
            POOL_MAX_MEMBERS);
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
    enum {
        OPT_CHECK = 256,
        OPT_MODE,
        OPT_GROUP,
        OPT_MAXCONN,
        OPT_MAXLINE,
        OPT_STATE,
        OPT_METRICS,
        OPT_SYSLOG,
        OPT_VERBOSE,
        OPT_MAXSTORE,
        OPT_MAXMEMBERS,
        OPT_ALLOWROOT
    };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"check-config", required_argument, NULL, OPT_CHECK},
        {"socket-mode", required_argument, NULL, OPT_MODE},
        {"socket-group", required_argument, NULL, OPT_GROUP},
        {"max-connections", required_argument, NULL, OPT_MAXCONN},
        {"max-line", required_argument, NULL, OPT_MAXLINE},
        {"max-store-bytes", required_argument, NULL, OPT_MAXSTORE},
        {"max-members", required_argument, NULL, OPT_MAXMEMBERS},
        {"allow-root", no_argument, NULL, OPT_ALLOWROOT},
        {"state-dir", required_argument, NULL, OPT_STATE},
        {"metrics", required_argument, NULL, OPT_METRICS},
        {"syslog", no_argument, NULL, OPT_SYSLOG},
        {"verbose-replies", no_argument, NULL, OPT_VERBOSE},
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
            /* Whoever can connect can make pdns serve anything: never to every local user. */
            if (v & 0002) {
                fprintf(stderr,
                        "pdns-failover: --socket-mode: %04lo would let every local user "
                        "write to the socket; give access through --socket-group\n",
                        v);
                return 2;
            }
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
        case OPT_MAXSTORE:
            if (parse_ulong("--max-store-bytes", optarg, 10, 1024, ULONG_MAX, &v) < 0)
                return 2;
            o->store_lim.max_bytes = v;
            break;
        case OPT_MAXMEMBERS:
            if (parse_ulong("--max-members", optarg, 10, 1, POOL_MAX_MEMBERS, &v) < 0)
                return 2;
            o->store_lim.max_members = (unsigned)v;
            break;
        case OPT_ALLOWROOT:
            o->allow_root = true;
            break;
        case OPT_STATE:
            if (!*optarg) {
                fprintf(stderr, "pdns-failover: --state-dir: empty path\n");
                return 2;
            }
            o->state_dir = optarg;
            break;
        case OPT_METRICS: {
            struct errbuf err;
            struct sockaddr_storage ss;
            if (metrics_http_parse_address(optarg, &ss, &err) < 0) {
                fprintf(stderr, "pdns-failover: %s\n", err.msg);
                return 2;
            }
            o->metrics = optarg;
            break;
        }
        case OPT_SYSLOG:
            o->syslog = true;
            break;
        case OPT_VERBOSE:
            o->verbose = true;
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

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return seed;
}

/* This process's counters (lookups it answered, probes it made). */
static struct metrics g_metrics;

/* What the metrics listener's thread reads; swapped under the lock when the store changes. */
static struct {
    pthread_mutex_t lock;
    const store_t *store;
    const struct health *health;
    bool stale;
} g_view = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void view_set(const store_t *s, const struct health *h)
{
    pthread_mutex_lock(&g_view.lock);
    g_view.store = s;
    g_view.health = h;
    pthread_mutex_unlock(&g_view.lock);
}

static void on_probe(void *opaque, size_t index, enum probe_result r, uint32_t latency_us)
{
    (void)opaque;
    (void)index;
    metrics_probe(&g_metrics, r, latency_us);
}

static void on_transition(void *opaque, const struct health_event *ev)
{
    struct health *h = opaque;
    if (ev->from != HEALTH_UNKNOWN || ev->to == HEALTH_DOWN)
        metrics_transition(&g_metrics, ev->to == HEALTH_UP);
    if (h->notify && ev->index < h->ntargets) {
        struct notify_event e;
        notify_event_from_health(&e, ev, h->pools_of[ev->index], h->members_of[ev->index]);
        notify_event(h->notify, &e); /* copies; never blocks the probe thread */
    }
    if (h->purger) { /* the verdict is published already: pdns's next lookup gets the new one */
        size_t n;
        const char *const *v = purgeset_for_target(h->ps, ev->index, &n);
        purger_request(h->purger, v, n); /* copies; never blocks the probe thread */
    }
}

static void purge_all(const struct health *h)
{
    size_t n;
    const char *const *v = purgeset_all(h->ps, &n);
    if (h->purger)
        purger_request(h->purger, v, n);
}

/* For each target, the pools and members that use it ("web,api" / "web1,a1"). */
static void health_names(struct health *h, const struct store_pools *sp)
{
    h->ntargets = sp->ntargets;
    h->pools_of = xcalloc(sp->ntargets + 1, sizeof(char *));
    h->members_of = xcalloc(sp->ntargets + 1, sizeof(char *));
    for (size_t t = 0; t < sp->ntargets; t++) {
        struct sbuf pl = SBUF_INIT, ml = SBUF_INIT;
        for (size_t p = 0; p < sp->npools; p++)
            for (size_t i = 0; i < sp->pools[p].nmembers; i++)
                if (sp->pools[p].members[i].target == t) {
                    if (pl.len)
                        sbuf_putc(&pl, ',');
                    if (ml.len)
                        sbuf_putc(&ml, ',');
                    sbuf_puts(&pl, sp->pools[p].name);
                    sbuf_puts(&ml, sp->pools[p].members[i].name);
                }
        h->pools_of[t] = sbuf_take(&pl);
        h->members_of[t] = sbuf_take(&ml);
    }
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Overrides and the times people read are on the wall clock; the prober's heartbeat is judged on
 * the boot clock (see hmap_silent_ms). */
static int64_t wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

struct member_iter {
    const store_t *store;
    const struct health *health;
    int64_t now;
};

static bool member_at(void *opaque, size_t i, struct metrics_member *ret)
{
    struct member_iter *it = opaque;
    const struct store_pools *sp = it->store ? store_pools(it->store) : NULL;
    for (size_t p = 0; sp && p < sp->npools; p++) {
        if (i >= sp->pools[p].nmembers) {
            i -= sp->pools[p].nmembers;
            continue;
        }
        const struct pool_member *m = &sp->pools[p].members[i];
        memset(ret, 0, sizeof(*ret));
        ret->pool = sp->pools[p].name;
        ret->member = m->name;
        ret->address = m->addr.text;
        ret->up = -1;
        if (it->health && it->health->map) {
            struct hmap_slot sl; /* a copy: the probe thread rewrites the slot meanwhile */
            hmap_slot_get(it->health->map, m->target, &sl);
            enum health_verdict v = hmap_verdict_of(&sl);
            ret->up = v == HEALTH_UP ? 1 : v == HEALTH_DOWN ? 0 : -1;
            ret->probes = sl.probes;
            ret->failures = sl.failures;
        }
        if (it->health && it->health->overrides)
            ret->override = (int)overrides_get(it->health->overrides, m->okey, it->now);
        return true;
    }
    return false;
}

static void serve_metrics(void *opaque, struct sbuf *out)
{
    (void)opaque;
    pthread_mutex_lock(&g_view.lock);
    struct member_iter it = {g_view.store, g_view.health, wall_ms()};
    metrics_render(&g_metrics, member_at, &it, out);
    pthread_mutex_unlock(&g_view.lock);
}

static void serve_status(void *opaque, struct sbuf *out)
{
    (void)opaque;
    pthread_mutex_lock(&g_view.lock);
    struct cmd_env env = {
        .store = g_view.store,
        .health = g_view.health ? g_view.health->map : NULL,
        .overrides = g_view.health ? g_view.health->overrides : NULL,
        .now_ms = wall_ms(),
        .boot_ms = clock_ms(CLOCK_BOOTTIME),
    };
    cmd_status_json(&env, out);
    pthread_mutex_unlock(&g_view.lock);
}

static bool serve_healthy(void *opaque)
{
    (void)opaque;
    pthread_mutex_lock(&g_view.lock);
    bool ok = !g_view.stale;
    pthread_mutex_unlock(&g_view.lock);
    return ok;
}

static metrics_http_t *metrics_start(const struct opts *o, bool quiet_if_taken)
{
    if (!o->metrics)
        return NULL;
    struct metrics_http_handlers h = {serve_metrics, serve_status, serve_healthy, NULL};
    metrics_http_t *m = NULL;
    struct errbuf err;
    int r = metrics_http_start(o->metrics, &h, &m, &err);
    if (r == -EADDRINUSE && quiet_if_taken)
        log_debug("main", "%s (another co-process serves the metrics)", err.msg);
    else if (r < 0)
        log_err("main", "%s", err.msg);
    return m;
}

static void health_stop(struct health *h)
{
    runner_stop(h->runner); /* first: the runner calls into notify and the purger */
    notify_stop(h->notify);
    purgeset_free(h->ps);
    hmap_close(h->map);
    overrides_close(h->overrides);
    for (size_t i = 0; i < h->ntargets; i++) {
        free(h->pools_of[i]);
        free(h->members_of[i]);
    }
    free(h->pools_of);
    free(h->members_of);
    memset(h, 0, sizeof(*h));
}

/* Answers fail open while the prober is silent: say so once when it starts and once when it
 * ends. */
static void on_stale(void *opaque, bool stale, int64_t silent_ms)
{
    purge_all(opaque); /* answers fail open, or follow health again: either way they change */
    metrics_set_stale(&g_metrics, stale);
    pthread_mutex_lock(&g_view.lock);
    g_view.stale = stale;
    pthread_mutex_unlock(&g_view.lock);
    if (stale)
        log_err("health",
                "no probe completed for %lld ms (3 check intervals): the prober is stalled; "
                "pool answers fail open until it recovers",
                (long long)silent_ms);
    else
        log_info("health", "probes are completing again; pool answers follow health");
}

/* Wires the health view, overrides and the staleness guard of h into d. */
static void health_attach(dispatch_t *d, struct health *h)
{
    dispatch_set_health(d, h->map, random_seed());
    dispatch_set_overrides(d, h->overrides);
    dispatch_on_stale(d, on_stale, h);
    dispatch_set_metrics(d, &g_metrics);
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
    struct runner_hooks hooks = {.transition = on_transition, .probe = on_probe, .opaque = h};
    health_names(h, sp);
    if (store_webhook(s) && notify_start(store_webhook(s), NULL, &h->notify, &err) < 0)
        log_err("notify", "%s; transitions are only logged", err.msg);
    /* A state directory that cannot be written (read-only, full, not ours) must not turn
     * failover off nor bring drained members back: overrides saved there keep applying, and
     * health is kept in memory. */
    if (overrides_open(dir, &h->overrides, &err) < 0) {
        log_err("health",
                "%s; overrides saved there still apply, and none can be set or cleared until "
                "it can be written",
                err.msg);
        if (overrides_open_readonly(dir, &h->overrides, &err) < 0)
            log_err("health", "%s; drain/down/up overrides are unavailable", err.msg);
    }
    if (hmap_open(dir, sp->targets, sp->ntargets, &h->map, &err) < 0) {
        log_err("health",
                "%s; health is kept in this process's memory until a reload or restart finds "
                "the directory usable (not shared with other processes, not kept across "
                "restarts)",
                err.msg);
        if (hmap_open_memory(dir, sp->targets, sp->ntargets, &h->map, &err) < 0) {
            log_err("health", "%s; pools answer as if every member were up", err.msg);
            return;
        }
    }
    if (runner_start(sp->targets, sp->ntargets, h->map, &hooks, &h->runner, &err) < 0) {
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
    if (wait_ms > 0 && !runner_wait_initial(h->runner, wait))
        log_info("health",
                 "first probe round not complete after %d ms; members without a "
                 "verdict count as up",
                 wait);
    log_debug("health", "%zu targets, state in '%s'", sp->ntargets, hmap_path(h->map));
}

/* Puts store s (owned) into service: stops the probe thread of the old store before freeing
 * it, starts the new one's (waiting up to wait_ms for its first round), swaps the views. Runs
 * on the answering thread, between requests. */
/* On the purger's thread, 4 times a second: an override set, cleared or expired (by any process,
 * e.g. `pdns-failover ctl drain`) changes answers without a transition. */
static void app_purge_tick(void *opaque)
{
    struct app *a = opaque;
    pthread_mutex_lock(&a->swap_lock);
    if (a->health.overrides) {
        uint64_t fp = overrides_fingerprint(a->health.overrides, wall_ms());
        if (a->have_overrides_fp && fp != a->overrides_fp)
            purge_all(&a->health);
        a->overrides_fp = fp;
        a->have_overrides_fp = true;
    }
    pthread_mutex_unlock(&a->swap_lock);
}

/* Purge mode follows the store: a purger for its control socket, or none. Not under swap_lock:
 * the purger's tick takes it. */
static void app_purger_for(struct app *a, const store_t *s)
{
    const char *sock = store_pdns_control(s);
    if (a->purger && (!sock || strcmp(purger_socket(a->purger), sock) != 0)) {
        purger_stop(a->purger);
        a->purger = NULL;
    }
    if (sock && !a->purger) {
        struct errbuf err;
        if (purger_start(sock, &a->purger, &err) < 0)
            log_err("purge", "%s; cached answers of pool names expire by their TTL", err.msg);
        else
            purger_set_tick(a->purger, app_purge_tick, a);
    }
}

static void app_install(struct app *a, store_t *s, int wait_ms)
{
    dispatch_set_health(a->d, NULL, random_seed());
    dispatch_set_overrides(a->d, NULL);
    view_set(NULL, NULL);
    pthread_mutex_lock(&a->swap_lock);
    health_stop(&a->health); /* the runner no longer asks the purger for anything */
    pthread_mutex_unlock(&a->swap_lock);
    app_purger_for(a, s);
    pthread_mutex_lock(&a->swap_lock);
    store_free(a->store);
    a->store = s;
    dispatch_set_store(a->d, s);
    a->health.purger = a->purger;
    a->health.ps = a->purger ? purgeset_build(s) : NULL;
    health_start(&a->health, s, a->o, wait_ms);
    pthread_mutex_unlock(&a->swap_lock);
    health_attach(a->d, &a->health);
    view_set(s, &a->health);
    uint64_t gen = atomic_fetch_add(&a->generation, 1) + 1;
    if (gen == 1)
        metrics_set_generation(&g_metrics, gen);
    else
        metrics_reload(&g_metrics, true, gen);
    if (gen > 1)
        purge_all(&a->health); /* a new store may answer pool names differently */
    /* Loading frees many small blocks: consolidate now, not in the first request (measured:
     * ~100 ms for a 100k-record store). */
    malloc_trim(0);
}

/* A store rebuilt by the reloader waits: swap it in (pipe: before answering; unix: woken). */
static void app_take_reload(void *opaque)
{
    struct app *a = opaque;
    store_t *s = a->rl ? reloader_take(a->rl) : NULL;
    if (s) {
        app_install(a, s, 0); /* new members' first probes start now; unknown counts as up */
        log_info("store", "%s: generation %llu in service", a->path,
                 (unsigned long long)atomic_load(&a->generation));
    }
}

static void app_reload_attempt(void *opaque, bool ok)
{
    struct app *a = opaque;
    if (!ok) {
        metrics_reload(&g_metrics, false, atomic_load(&a->generation));
        return;
    }
    /* A newer store waits. An idle pipe co-process swaps only at its next request: until then
     * its probe thread must not take over probing the old store's targets from the processes
     * that already moved on. */
    pthread_mutex_lock(&a->swap_lock);
    runner_retire(a->health.runner);
    pthread_mutex_unlock(&a->swap_lock);
}

static void app_request_reload(void *opaque)
{
    struct app *a = opaque;
    if (a->rl)
        reloader_request(a->rl);
}

static int cmd_reload(void *opaque, struct sbuf *out)
{
    struct app *a = opaque;
    if (!a->rl) {
        sbuf_puts(out, "error: no store file to reload\n");
        return -EINVAL;
    }
    reloader_request(a->rl);
    sbuf_printf(out,
                "reload of '%s' requested (serving generation %llu): it is built in the "
                "background and swapped in if valid; the log and 'stats' show the outcome\n",
                a->path, (unsigned long long)atomic_load(&a->generation));
    return 0;
}

static void cmd_stats(void *opaque, struct sbuf *out)
{
    struct app *a = opaque;
    sbuf_printf(out, "store: %s\nstore generation: %llu\n", a->path ? a->path : "-",
                (unsigned long long)atomic_load(&a->generation));
    if (a->purger) {
        struct purger_stats st;
        purger_get_stats(a->purger, &st);
        sbuf_printf(out,
                    "purge mode: %s\npurge commands: %llu\npurge failures: %llu\n"
                    "purged patterns: %llu\n",
                    purger_socket(a->purger), (unsigned long long)st.commands,
                    (unsigned long long)st.failures, (unsigned long long)st.patterns);
    } else {
        sbuf_puts(out, "purge mode: off (pool names carry a scopeMask)\n");
    }
}

/* ---- edits ---- */

static int app_read(void *opaque, json_object **doc, struct errlist *errs)
{
    struct app *a = opaque;
    if (!a->path) {
        errlist_add(errs, "no store file is loaded");
        return -ENOENT;
    }
    return commit_read(a->path, doc, errs);
}

/* Commits edits to the store file. Runs on the unix server's writer thread (or the answering
 * thread in pipe mode): it touches nothing but the file and its arguments. */
static int app_commit(
    void *opaque, struct edit_op *ops, size_t n, struct dispatch_commit *res, struct errlist *errs)
{
    struct app *a = opaque;
    struct stat *st = xcalloc(1, sizeof(*st));
    struct timespec t0, t1;
    if (!a->path) {
        errlist_add(errs, "no store file is loaded");
        free(st);
        return -ENOENT;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = commit_apply(a->path, ops, n, &res->store, st, NULL, errs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (r < 0) {
        for (size_t i = 0; i < errs->n && i < 20; i++)
            log_err("store", "%s: edit refused: %s", a->path, errs->msgs[i]);
        free(st);
        return r;
    }
    for (size_t i = 0; i < errs->n; i++)
        log_warn("store", "%s: %s", a->path, errs->msgs[i]);
    res->extra = st;
    log_info("store", "%s: %zu edits committed in %.1f ms", a->path, n,
             (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return 0;
}

/* Serves a committed store at once (the answering thread); the other processes reading the file
 * pick it up within RELOADER_POLL_MS. */
static void app_install_commit(void *opaque, struct dispatch_commit *res)
{
    struct app *a = opaque;
    if (res->extra)
        reloader_seen(a->rl, res->extra);
    app_install(a, res->store, 0);
    res->store = NULL;
    log_debug("store", "%s: generation %llu in service", a->path,
              (unsigned long long)atomic_load(&a->generation));
}

/* Before answering what pdns caches for long (the zone list): serve the file as it is now, not
 * as the reloader last saw it up to a second ago. `pdns-failover zone add` edits the file and
 * then runs `pdns_control rediscover`, which must find the new zone. */
static void app_freshen(void *opaque)
{
    struct app *a = opaque;
    struct stat st;
    if (!a->rl || reloader_is_current(a->rl, &st))
        return;
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    if (store_load_file(a->path, &s, &errs) == 0) {
        reloader_seen(a->rl, &st);
        app_install(a, s, 0);
        log_info("store", "%s: changed on disk; generation %llu in service", a->path,
                 (unsigned long long)atomic_load(&a->generation));
    }
    errlist_free(&errs); /* the reloader reports a broken file */
}

static void app_set_writer(struct app *a)
{
    struct dispatch_writer w = {
        .read = app_read, .commit = app_commit, .install = app_install_commit, .opaque = a};
    dispatch_set_writer(a->d, &w);
    dispatch_set_freshen(a->d, app_freshen, a);
}

static void app_watch(struct app *a)
{
    struct reloader_hooks h = {.attempt = app_reload_attempt, .opaque = a};
    struct errbuf err;
    reloader_stop(a->rl);
    a->rl = NULL;
    if (reloader_start(a->path, &h, &a->rl, &err) < 0)
        log_err("store", "%s; the store is reloaded only on restart", err.msg);
}

static int pipe_load(void *opaque, const char *path, struct errlist *errs)
{
    struct app *a = opaque;
    if (a->store && a->path && strcmp(a->path, path) == 0)
        return 0;
    store_t *s = NULL;
    int r = store_load_file(path, &s, errs);
    if (r < 0) {
        log_errors(path, errs);
        return r;
    }
    free(a->path);
    a->path = xstrdup(path);
    /* pdns waits at most its timeout (2 s by default) for each reply: stay well below it. */
    app_install(a, s, 1000);
    app_watch(a);
    log_debug("store", "%s: loaded %zu zones, %zu records", path, store_zone_count(s),
              store_record_count(s));
    return 0;
}

static void app_free(struct app *a)
{
    reloader_stop(a->rl);
    view_set(NULL, NULL);
    pthread_mutex_lock(&a->swap_lock); /* the purger's tick reads the health member */
    health_stop(&a->health);
    pthread_mutex_unlock(&a->swap_lock);
    purger_stop(a->purger); /* after the runner: it sends what is queued */
    dispatch_free(a->d);
    store_free(a->store);
    free(a->path);
}

static void pipe_sighup(int sig)
{
    (void)sig;
    reloader_request_async();
}

static int run_pipe(const struct opts *o)
{
    struct app a = {.o = o, .swap_lock = PTHREAD_MUTEX_INITIALIZER};
    /* SIGHUP reloads, as in unix mode. Its default action would end the co-process, and one
     * that ends while idle costs pdns that thread for good (protocol doc 2.3): `pkill -HUP
     * pdns-failover` must not take pdns down. Before any thread starts. */
    struct sigaction sa = {.sa_handler = pipe_sighup, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    a.d = dispatch_new(pipe_load, &a);
    dispatch_set_cmd_hooks(a.d, cmd_reload, cmd_stats, &a);
    app_set_writer(&a);
    dispatch_set_verbose(a.d, o->verbose);
    dispatch_set_metrics(a.d, &g_metrics);
    if (o->config) {
        struct errlist errs = ERRLIST_INIT;
        /* A broken store must not end the co-process: pdns would lose this thread for good
         * (protocol doc 2.3). Serve nothing and say why in the log instead. */
        if (pipe_load(&a, o->config, &errs) < 0)
            log_err("store",
                    "%s: not loaded; answering nothing until it is fixed and pdns "
                    "restarts this backend",
                    o->config);
        errlist_free(&errs);
    }
    server_pipe_set_hook(app_take_reload, &a);
    /* Co-processes share the port: the first to bind it serves the metrics. */
    metrics_http_t *mh = metrics_start(o, true);
    int r = server_run_pipe(a.d, STDIN_FILENO, STDOUT_FILENO, &o->lim);
    metrics_http_stop(mh);
    app_free(&a);
    return r < 0 ? 1 : 0;
}

static int run_unix(const struct opts *o)
{
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    server_t *srv = NULL;
    metrics_http_t *mh = NULL;
    struct errbuf err;
    struct app a = {.o = o, .swap_lock = PTHREAD_MUTEX_INITIALIZER};
    int rc = 1;

    /* The event loop takes these through a signalfd; until it runs (loading, the first probe
     * round) they stay pending instead of killing us (systemd's reload sends SIGHUP). */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    a.d = dispatch_new(NULL, NULL);
    dispatch_set_cmd_hooks(a.d, cmd_reload, cmd_stats, &a);
    app_set_writer(&a);
    dispatch_set_verbose(a.d, o->verbose);
    dispatch_set_metrics(a.d, &g_metrics);
    if (store_load_file(o->config, &s, &errs) < 0) {
        log_errors(o->config, &errs);
        log_err("main", "%s: %zu errors; not starting", o->config, errlist_count(&errs));
        goto out;
    }
    log_info("store", "%s: loaded %zu zones, %zu records", o->config, store_zone_count(s),
             store_record_count(s));
    a.path = xstrdup(o->config);
    /* The first probe round runs before the socket exists: pdns (started after it appears)
     * never waits on a daemon that is not answering yet, and its first answers follow
     * health. */
    app_install(&a, s, 10000);
    if (server_listen(o->listen, o->socket_mode, o->socket_gid, &o->lim, &srv, &err) < 0) {
        log_err("main", "%s", err.msg);
        goto out;
    }
    mh = metrics_start(o, false);
    if (o->metrics && !mh)
        goto out;
    app_watch(&a);
    struct server_hooks hooks = {
        .sighup = app_request_reload,
        .wake_fd = a.rl ? reloader_wake_fd(a.rl) : -1,
        .wake = app_take_reload,
        .opaque = &a,
    };
    server_set_hooks(srv, &hooks);
    rc = server_run(srv, a.d) < 0 ? 1 : 0;
out:
    metrics_http_stop(mh);
    server_free(srv);
    app_free(&a);
    errlist_free(&errs);
    return rc;
}

/* ---- pdns-failover ctl --------------------------------------------------------------------- */

#define CTL_DEFAULT_SOCKET "/run/pdns-failover/pdns-failover.sock"

static void ctl_usage(FILE *f)
{
    fprintf(f, "Usage: pdns-failover ctl [--socket PATH] COMMAND [ARGS...]\n"
               "       pdns-failover ctl --config FILE [--state-dir DIR] COMMAND [ARGS...]\n"
               "Runs an operator command (try 'help') in the daemon listening on PATH "
               "(default " CTL_DEFAULT_SOCKET "),\n"
               "or, with --config, directly on a store and its state directory (pipe mode, or "
               "while\nno daemon runs).\n");
}

/* Sends one request line over the backend socket and reads one reply line. */
static int ctl_exchange(int fd, const char *req, struct sbuf *reply)
{
    size_t len = strlen(req), off = 0;
    while (off < len) {
        ssize_t w = write(fd, req + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        off += (size_t)w;
    }
    sbuf_reset(reply);
    for (;;) {
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -ECONNRESET;
        sbuf_put(reply, buf, (size_t)n);
        if (memchr(buf, '\n', (size_t)n))
            return 0;
    }
}

static int ctl_socket(const char *path, const char *command)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "pdns-failover ctl: socket path '%s' is too long\n", path);
        return 2;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr,
                "pdns-failover ctl: cannot connect to '%s' (%m); is the daemon running? "
                "(or use --config FILE)\n",
                path);
        if (fd >= 0)
            close(fd);
        return 1;
    }
    struct sbuf req = SBUF_INIT, reply = SBUF_INIT;
    int rc = 1;
    sbuf_puts(&req, "{\"method\":\"initialize\",\"parameters\":{\"ctl\":\"1\"}}\n");
    if (ctl_exchange(fd, sbuf_str(&req), &reply) < 0)
        goto io;
    sbuf_reset(&req);
    sbuf_puts(&req, "{\"method\":\"directBackendCmd\",\"parameters\":{\"query\":");
    sbuf_json_str(&req, command, strlen(command));
    sbuf_puts(&req, "}}\n");
    if (ctl_exchange(fd, sbuf_str(&req), &reply) < 0)
        goto io;
    json_object *j = json_tokener_parse(sbuf_str(&reply)), *res;
    if (!j || !json_object_object_get_ex(j, "result", &res) ||
        !json_object_is_type(res, json_type_string))
    {
        fprintf(stderr, "pdns-failover ctl: unexpected reply: %.200s", sbuf_str(&reply));
        json_object_put(j);
        goto out;
    }
    const char *text = json_object_get_string(res);
    fputs(text, stdout);
    rc = strncmp(text, "error:", 6) == 0 || strncmp(text, "unknown command:", 16) == 0;
    json_object_put(j);
    goto out;
io:
    fprintf(stderr, "pdns-failover ctl: connection to '%s' failed\n", path);
out:
    close(fd);
    sbuf_free(&req);
    sbuf_free(&reply);
    return rc;
}

static int ctl_local(const struct opts *o, const char *command)
{
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    if (store_load_file(o->config, &s, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s: %s\n", o->config, errs.msgs[i]);
        errlist_free(&errs);
        return 1;
    }
    const struct store_pools *sp = store_pools(s);
    char buf[64];
    const char *dir = state_dir(o, buf, sizeof(buf));
    struct errbuf err;
    hmap_t *map = NULL;
    overrides_t *ov = NULL;
    /* A directory that cannot be written still shows what is saved there. */
    if (sp->ntargets && hmap_open(dir, sp->targets, sp->ntargets, &map, &err) < 0) {
        fprintf(stderr, "pdns-failover ctl: %s\n", err.msg);
        hmap_open_memory(dir, sp->targets, sp->ntargets, &map, &err);
    }
    if (sp->npools && overrides_open(dir, &ov, &err) < 0) {
        fprintf(stderr, "pdns-failover ctl: %s\n", err.msg);
        overrides_open_readonly(dir, &ov, &err);
    }
    struct cmd_env env = {.store = s,
                          .health = map,
                          .overrides = ov,
                          .now_ms = wall_ms(),
                          .boot_ms = clock_ms(CLOCK_BOOTTIME)};
    struct sbuf out = SBUF_INIT;
    int r = cmd_run(&env, command, strlen(command), &out);
    fputs(sbuf_str(&out), stdout);
    sbuf_free(&out);
    hmap_close(map);
    overrides_close(ov);
    store_free(s);
    errlist_free(&errs);
    return r < 0 ? 1 : 0;
}

static int ctl_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"state-dir", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {0};
    const char *sock = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:s:c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            sock = optarg;
            break;
        case 'c':
            o.config = optarg;
            break;
        case 'S':
            o.state_dir = optarg;
            break;
        case 'h':
            ctl_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "pdns-failover ctl: bad option '%s'\n", argv[optind - 1]);
            ctl_usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "pdns-failover ctl: which command? (try 'help')\n");
        ctl_usage(stderr);
        return 2;
    }
    struct sbuf cmd = SBUF_INIT;
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            sbuf_putc(&cmd, ' ');
        sbuf_puts(&cmd, argv[i]);
    }
    int rc = o.config && !sock ? ctl_local(&o, sbuf_str(&cmd))
                               : ctl_socket(sock ? sock : CTL_DEFAULT_SOCKET, sbuf_str(&cmd));
    sbuf_free(&cmd);
    return rc;
}

/* Probes in flight (up to 512), unix connections (--max-connections) and the rest need more
 * descriptors than a shell's usual soft limit of 1024: take the hard limit. A probe that still
 * finds none is reported as a local problem, not as the endpoint's failure. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("main", "cannot raise the open files limit to %llu: %m",
                     (unsigned long long)rl.rlim_max);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "ctl") == 0) {
        signal(SIGPIPE, SIG_IGN);
        return ctl_main(argc - 1, argv + 1);
    }
    if (argc > 1 && (strcmp(argv[1], "zone") == 0 || strcmp(argv[1], "fmt") == 0)) {
        signal(SIGPIPE, SIG_IGN);
        signal(SIGXFSZ, SIG_IGN);
        return strcmp(argv[1], "zone") == 0 ? cli_zone_main(argc - 1, argv + 1)
                                            : cli_fmt_main(argc - 1, argv + 1);
    }
    struct opts o = {
        .socket_mode = 0660,
        .socket_gid = (gid_t)-1,
        .lim = {.max_line = SERVER_DEFAULT_MAX_LINE, .max_conns = SERVER_DEFAULT_MAX_CONNS},
        .store_lim = {.max_bytes = STORE_DEFAULT_MAX_BYTES, .max_members = POOL_MAX_MEMBERS},
    };
    int r = parse_args(argc, argv, &o);
    if (r)
        return r;
    store_set_limits(&o.store_lim);
    /* pdns ignores SIGPIPE before spawning us; do the same in every mode so a vanished peer is
     * an EPIPE error, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    /* A file size limit (ulimit -f) must fail a commit with EFBIG, not kill the process. */
    signal(SIGXFSZ, SIG_IGN);
    if (o.check)
        return check_config(o.check);
    /* The daemon parses what pdns and the network send it and runs a libcurl prober: none of
     * it needs root, so a mistake in it should not own the machine. */
    if (geteuid() == 0 && !o.allow_root) {
        log_err("main", "refusing to run as root: run as an unprivileged user (pdns starts pipe "
                        "co-processes as its own user; the systemd unit sets User=), or pass "
                        "--allow-root");
        return 2;
    }
    if (o.syslog)
        log_use_syslog("pdns-failover"); /* before any thread starts */
    raise_fd_limit();
    metrics_init(&g_metrics);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        log_err("main", "libcurl could not be initialised");
        return 1;
    }
    if (o.listen)
        return run_unix(&o);
    return run_pipe(&o);
}
