/* SPDX-License-Identifier: MIT */
/* Test driver for the probe thread (health/runner.c) against real servers: builds targets from a
 * spec file, opens health maps in a state directory and runs runners on them, driven by line
 * commands on stdin; answers on stdout, logs (transitions, debug) on stderr. Used by
 * test_runner.py; test code only.
 *
 * Spec file: one target per line, tab-separated key=value fields: name, type (http|https|tcp),
 * address, port, path, host, head (0|1), expect (comma list: 200,2xx,200-399), body, header
 * (repeatable), tls_verify (0|1), ca, interval, timeout, rise, fall.
 *
 * Commands (N is a slot 0..3; each slot holds one map and at most one runner):
 *   start N          open a map on the state directory and start a runner  -> "started N"
 *   wait N MS        runner_wait_initial                                    -> "initial N 0|1"
 *   verdicts N       the published verdicts, read like the answering path   -> "verdicts N up down"
 *   stop N           stop the runner, print its slots, close the map        -> "slot N I ..."
 *                    lines ("result=<n> probes=<n> failures=<n> ok_run=<n> fail_run=<n>
 *                    since=<0|1> reason=<text>"), then "stopped N"
 *   quit             stop everything and exit */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "health/expect.h"
#include "health/hmap.h"
#include "health/runner.h"

#define MAX_TARGETS 64
#define MAX_SLOTS   4
#define MAX_FIELDS  8

struct spec {
    struct check_def check;
    struct expect_range expect[MAX_FIELDS];
    const char *headers[MAX_FIELDS];
    char label[128];
};

static struct spec specs[MAX_TARGETS];
static struct target targets[MAX_TARGETS];
static char *lines[MAX_TARGETS]; /* the spec lines, cut into the fields the targets point to */
static size_t ntargets;
static const char *state_dir;
static hmap_t *maps[MAX_SLOTS];
static runner_t *runners[MAX_SLOTS];

static void die(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "runner_harness: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static void parse_expect(struct spec *sp, char *list)
{
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        struct errbuf err;
        if (sp->check.nexpect == MAX_FIELDS)
            die("too many expect items: '%s'", tok);
        if (expect_parse(tok, &sp->expect[sp->check.nexpect++], &err) < 0)
            die("%s", err.msg);
    }
    sp->check.expect = sp->expect;
}

static void parse_line(char *line)
{
    if (ntargets == MAX_TARGETS)
        die("too many targets");
    struct spec *sp = &specs[ntargets];
    struct target *t = &targets[ntargets];
    struct check_def *c = &sp->check;
    const char *name = "target";
    char *save = NULL;

    *c = (struct check_def){.type = CHECK_HTTP,
                            .path = "/",
                            .tls_verify = true,
                            .interval_ms = 300,
                            .timeout_ms = 200,
                            .rise = 2,
                            .fall = 2};
    t->check = c;
    t->key = fnv1a(line);
    for (char *f = strtok_r(line, "\t", &save); f; f = strtok_r(NULL, "\t", &save)) {
        char *v = strchr(f, '=');
        if (!v)
            die("field without '=': '%s'", f);
        *v++ = '\0';
        if (!strcmp(f, "name"))
            name = v;
        else if (!strcmp(f, "type"))
            c->type = !strcmp(v, "https") ? CHECK_HTTPS
                      : !strcmp(v, "tcp") ? CHECK_TCP
                                          : CHECK_HTTP;
        else if (!strcmp(f, "address")) {
            snprintf(t->address, sizeof(t->address), "%s", v);
            t->family = strchr(v, ':') ? AF_INET6 : AF_INET;
        } else if (!strcmp(f, "port"))
            t->port = (uint16_t)atoi(v);
        else if (!strcmp(f, "path"))
            c->path = v;
        else if (!strcmp(f, "host"))
            c->host = v;
        else if (!strcmp(f, "head"))
            c->head = atoi(v) != 0;
        else if (!strcmp(f, "expect"))
            parse_expect(sp, v);
        else if (!strcmp(f, "body"))
            c->body = v;
        else if (!strcmp(f, "header")) {
            if (c->nheaders == MAX_FIELDS)
                die("too many headers: '%s'", v);
            sp->headers[c->nheaders++] = v;
            c->headers = sp->headers;
        } else if (!strcmp(f, "tls_verify"))
            c->tls_verify = atoi(v) != 0;
        else if (!strcmp(f, "ca"))
            c->ca_file = v;
        else if (!strcmp(f, "interval"))
            c->interval_ms = (uint32_t)atoi(v);
        else if (!strcmp(f, "timeout"))
            c->timeout_ms = (uint32_t)atoi(v);
        else if (!strcmp(f, "rise"))
            c->rise = (uint16_t)atoi(v);
        else if (!strcmp(f, "fall"))
            c->fall = (uint16_t)atoi(v);
        else
            die("unknown field '%s'", f);
    }
    snprintf(sp->label, sizeof(sp->label), "%s %s:%u", name, t->address, (unsigned)t->port);
    t->label = sp->label;
    ntargets++;
}

static void load_spec(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    if (!f)
        die("cannot open '%s'", path);
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && line[0] != '#')
            parse_line(lines[ntargets] = xstrdup(line));
    }
    fclose(f);
}

static const char *verdict_text(enum health_verdict v)
{
    return v == HEALTH_UP ? "up" : v == HEALTH_DOWN ? "down" : "unknown";
}

static int slot_arg(const char *s)
{
    int n = s ? atoi(s) : -1;
    if (n < 0 || n >= MAX_SLOTS)
        die("bad slot '%s'", s ? s : "");
    return n;
}

static void cmd_start(int n)
{
    struct errbuf err;
    if (maps[n])
        die("slot %d already started", n);
    if (hmap_open(state_dir, targets, ntargets, &maps[n], &err) < 0)
        die("%s", err.msg);
    if (runner_start(targets, ntargets, maps[n], NULL, &runners[n], &err) < 0)
        die("%s", err.msg);
    printf("started %d\n", n);
}

static void cmd_stop(int n)
{
    if (!maps[n])
        die("slot %d not started", n);
    runner_stop(runners[n]);
    runners[n] = NULL;
    /* The runner is joined, but another slot's runner may lead the same map file now. */
    for (size_t i = 0; i < ntargets; i++) {
        struct hmap_slot copy, *s = &copy;
        hmap_slot_get(maps[n], i, s);
        printf("slot %d %zu verdict=%s result=%u probes=%llu failures=%llu ok_run=%u fail_run=%u "
               "since=%d reason=%s\n",
               n, i, verdict_text(hmap_verdict_of(s)), (unsigned)s->last_result,
               (unsigned long long)s->probes, (unsigned long long)s->failures, (unsigned)s->ok_run,
               (unsigned)s->fail_run, s->since_ms > 0, s->reason);
    }
    hmap_close(maps[n]);
    maps[n] = NULL;
    printf("stopped %d\n", n);
}

int main(int argc, char **argv)
{
    char line[256];

    if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "-d")))
        die("usage: runner_harness SPEC STATE_DIR [-d]");
    log_set_ident("runner_harness");
    log_set_debug(argc == 4);
    load_spec(argv[1]);
    state_dir = argv[2];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init failed");
    setvbuf(stdout, NULL, _IOLBF, 0);

    while (fgets(line, sizeof(line), stdin)) {
        char *save = NULL;
        char *cmd = strtok_r(line, " \r\n", &save);
        char *a1 = strtok_r(NULL, " \r\n", &save);
        char *a2 = strtok_r(NULL, " \r\n", &save);
        if (!cmd)
            continue;
        if (!strcmp(cmd, "start")) {
            cmd_start(slot_arg(a1));
        } else if (!strcmp(cmd, "wait")) {
            int n = slot_arg(a1);
            if (!runners[n])
                die("slot %s has no runner", a1);
            printf("initial %d %d\n", n, runner_wait_initial(runners[n], a2 ? atoi(a2) : 0));
        } else if (!strcmp(cmd, "verdicts")) {
            int n = slot_arg(a1);
            if (!maps[n])
                die("slot %s not started", a1);
            printf("verdicts %d", n);
            for (size_t i = 0; i < ntargets; i++)
                printf(" %s", verdict_text(hmap_verdict(maps[n], i)));
            printf("\n");
        } else if (!strcmp(cmd, "stop")) {
            cmd_stop(slot_arg(a1));
        } else if (!strcmp(cmd, "quit")) {
            break;
        } else {
            die("unknown command '%s'", cmd);
        }
    }
    for (int n = 0; n < MAX_SLOTS; n++)
        if (maps[n])
            cmd_stop(n);
    curl_global_cleanup();
    for (size_t i = 0; i < ntargets; i++)
        free(lines[i]);
    return 0;
}
