/* SPDX-License-Identifier: MIT */
/* The store-editing commands: `pdns-failover zone add|delete|list` (pdns 4.7 cannot create or
 * delete zones through a remote backend, so zones are added here and pdns is told to
 * rediscover) and `pdns-failover fmt` (rewrite a store in the canonical layout edits keep).
 * Edits go through commit.c like every other write. Part of the I/O shell, with main.c. */
#include "backend/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/commit.h"
#include "backend/edit.h"
#include "backend/pdnsctl.h"
#include "backend/store.h"
#include "common/dname.h"
#include "common/sbuf.h"

#define PDNS_TIMEOUT_MS 5000

static void zone_usage(FILE *f)
{
    fprintf(f,
            "Usage: pdns-failover zone add NAME --config FILE --ns HOST [--ns HOST...]\n"
            "                          [--soa 'MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM']\n"
            "                          [--ttl SECONDS] [--pdns-socket PATH]\n"
            "       pdns-failover zone delete NAME --config FILE [--pdns-socket PATH]\n"
            "       pdns-failover zone list --config FILE\n"
            "Adds or deletes a zone in the store file (durably, like every edit), then tells pdns\n"
            "through its control socket (pdns_control rediscover, then purge NAME$).\n"
            "The socket is --pdns-socket (the socket file, or pdns's socket-dir), else the\n"
            "store's \"pdns\": {\"control_socket\": ...}. Without either, pdns is not told.\n"
            "--soa defaults to 'FIRST-NS hostmaster.NAME YYYYMMDD01 10800 3600 604800 300'.\n"
            "Exit status: 0 done, 1 refused (nothing changed), 2 usage, 3 the store changed\n"
            "but pdns could not be told.\n");
}

static void print_errs(const char *path, const struct errlist *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "%s: %s\n", path, errs->msgs[i]);
    if (errs->dropped)
        fprintf(stderr, "%s: %zu more errors not shown\n", path, errs->dropped);
}

/* rediscover, then purge the zone's cached answers (a negative answer cached for a zone that
 * did not exist would outlive its creation). */
static int tell_pdns(const char *sock_arg, const store_t *s, const char *zone)
{
    const char *arg = sock_arg ? sock_arg : store_pdns_control(s);
    if (!arg) {
        fprintf(stderr,
                "pdns-failover zone: pdns was not told (no --pdns-socket, no "
                "\"pdns\": {\"control_socket\"} in the store); run: pdns_control rediscover\n");
        return 0;
    }
    struct sbuf path = SBUF_INIT, reply = SBUF_INIT, cmd = SBUF_INIT;
    struct errbuf err;
    int rc = 0;
    pdnsctl_socket_path(arg, &path);
    if (pdnsctl_command(sbuf_str(&path), "rediscover", PDNS_TIMEOUT_MS, &reply, &err) < 0) {
        fprintf(stderr,
                "pdns-failover zone: the store changed, but telling pdns failed: %s; run: "
                "pdns_control rediscover\n",
                err.msg);
        rc = 3;
        goto out;
    }
    printf("pdns: rediscover: %s\n", sbuf_str(&reply));
    sbuf_printf(&cmd, "purge %s$", zone);
    if (pdnsctl_command(sbuf_str(&path), sbuf_str(&cmd), PDNS_TIMEOUT_MS, &reply, &err) < 0) {
        fprintf(stderr, "pdns-failover zone: purging pdns's caches failed: %s\n", err.msg);
        rc = 3;
        goto out;
    }
    printf("pdns: %s: %s\n", sbuf_str(&cmd), sbuf_str(&reply));
out:
    sbuf_free(&path);
    sbuf_free(&reply);
    sbuf_free(&cmd);
    return rc;
}

static int zone_list(const char *config)
{
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    if (store_load_file(config, &s, &errs) < 0) {
        print_errs(config, &errs);
        errlist_free(&errs);
        return 1;
    }
    for (size_t i = 0; i < store_zone_count(s); i++) {
        const struct store_zone *z = store_zone_at(s, i);
        printf("%s\tid %u\tserial %u\t%u records\n", z->name, z->id, z->serial, z->nrecords);
    }
    store_free(s);
    return 0;
}

int cli_zone_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"ns", required_argument, NULL, 'n'},
        {"soa", required_argument, NULL, 's'},
        {"ttl", required_argument, NULL, 't'},
        {"pdns-socket", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *soa = NULL, *sock = NULL;
    const char **ns = calloc((size_t)argc + 1, sizeof(*ns));
    size_t nns = 0;
    unsigned long ttl = 0;
    int c, rc = 2;
    opterr = 0;
    optind = 1;
    if (!ns)
        return 1;
    while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'n':
            ns[nns++] = optarg;
            break;
        case 's':
            soa = optarg;
            break;
        case 'p':
            sock = optarg;
            break;
        case 't': {
            char *end;
            errno = 0;
            ttl = strtoul(optarg, &end, 10);
            if (!*optarg || *end || errno || *optarg == '-' || ttl == 0 || ttl > STORE_TTL_MAX) {
                fprintf(stderr, "pdns-failover zone: --ttl: '%s' is not a number from 1 to %u\n",
                        optarg, STORE_TTL_MAX);
                goto out;
            }
            break;
        }
        case 'h':
            zone_usage(stdout);
            rc = 0;
            goto out;
        case ':':
            fprintf(stderr, "pdns-failover zone: option '%s' needs a value\n", argv[optind - 1]);
            zone_usage(stderr);
            goto out;
        default:
            fprintf(stderr, "pdns-failover zone: bad option '%s'\n", argv[optind - 1]);
            zone_usage(stderr);
            goto out;
        }
    }
    const char *verb = optind < argc ? argv[optind] : NULL;
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (!verb || !config) {
        fprintf(stderr, "pdns-failover zone: %s\n",
                !verb ? "add, delete or list?" : "which store? (--config FILE)");
        zone_usage(stderr);
        goto out;
    }
    if (strcmp(verb, "list") == 0 && !name) {
        rc = zone_list(config);
        goto out;
    }
    bool add = strcmp(verb, "add") == 0, del = strcmp(verb, "delete") == 0;
    if ((!add && !del) || !name || optind + 2 < argc) {
        fprintf(stderr, "pdns-failover zone: expected 'add NAME', 'delete NAME' or 'list'\n");
        zone_usage(stderr);
        goto out;
    }
    if (del && (nns || soa || ttl)) {
        fprintf(stderr, "pdns-failover zone: delete takes no --ns, --soa or --ttl\n");
        goto out;
    }
    if (add && nns == 0) {
        fprintf(stderr, "pdns-failover zone: add needs at least one --ns HOST\n");
        goto out;
    }

    char zone[DNAME_TEXT_MAX], soabuf[2 * DNAME_TEXT_MAX + 64];
    struct errbuf err;
    struct edit_op op = {0};
    struct errlist errs = ERRLIST_INIT;
    store_t *s = NULL;
    if (edit_zone_name(name, zone, sizeof(zone), &err) < 0) {
        fprintf(stderr, "pdns-failover zone: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    if (add && !soa) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(soabuf, sizeof(soabuf), "%s hostmaster.%s %04d%02d%02d01 10800 3600 604800 300",
                 ns[0], zone, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        soa = soabuf;
    }
    int r = add ? edit_op_add_zone(zone, soa, ns, nns, (uint32_t)ttl, &op, &err)
                : edit_op_delete_zone(zone, &op, &err);
    if (r < 0) {
        fprintf(stderr, "pdns-failover zone: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    r = commit_apply(config, &op, 1, &s, NULL, NULL, &errs);
    edit_op_clear(&op);
    if (r < 0) {
        print_errs(config, &errs);
        fprintf(stderr, "pdns-failover zone: nothing changed\n");
        rc = 1;
    } else {
        print_errs(config, &errs); /* warnings */
        printf("%s: zone %s %s\n", config, zone, add ? "added" : "deleted");
        rc = tell_pdns(sock, s, zone);
    }
    store_free(s);
    errlist_free(&errs);
out:
    free(ns);
    return rc;
}

int cli_fmt_main(int argc, char **argv)
{
    bool check = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0) {
            check = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("Usage: pdns-failover fmt [--check] FILE\n"
                   "Rewrites a store file in the canonical layout that edits keep (durably, "
                   "under the\nwriters' lock), so that later diffs show only edits. With "
                   "--check, changes nothing\nand exits 1 when the file is not in that "
                   "layout.\n");
            return 0;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "pdns-failover fmt: unexpected '%s' (usage: fmt [--check] FILE)\n",
                    argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "pdns-failover fmt: which file? (usage: fmt [--check] FILE)\n");
        return 2;
    }
    struct errlist errs = ERRLIST_INIT;
    bool same = false, changed = false;
    int r = check ? commit_check_format(path, &same, &errs)
                  : commit_apply(path, NULL, 0, NULL, NULL, &changed, &errs);
    if (r < 0) {
        print_errs(path, &errs);
        errlist_free(&errs);
        return 1;
    }
    print_errs(path, &errs); /* warnings */
    errlist_free(&errs);
    if (check) {
        if (!same)
            fprintf(stderr, "%s: not in the canonical layout (run: pdns-failover fmt %s)\n", path,
                    path);
        return same ? 0 : 1;
    }
    printf("%s: %s\n", path, changed ? "rewritten in the canonical layout" : "already canonical");
    return 0;
}
