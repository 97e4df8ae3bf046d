/* SPDX-License-Identifier: MIT */
/* lookup_pace: answer latency of a pdns-failover daemon at a steady, low request rate.
 *
 *   lookup_pace --unix PATH --names FILE [--rate N] [--duration SEC] [--warmup SEC] [--label L]
 *
 * One connection; `initialize`, then one `lookup` (qtype ANY, the line pdns sends on its query
 * path) every 1/N seconds on a fixed schedule, one at a time: send, wait for the reply, sleep
 * until the next slot. Names are taken from FILE in random order (fixed seed). Every reply must
 * be one line starting with {"result":[ and holding at least one record. Unlike lookup_bench it
 * does not run flat out, so it measures what one query costs while the daemon is otherwise busy
 * (probing) or idle, not the throughput. Prints one line:
 *
 *   LABEL n=COUNT p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=.. mean_us=..
 *
 * Latency is from just before write() to the reply's newline (CLOCK_MONOTONIC), nearest-rank
 * percentiles. Exit status 1 on any error. Bounded: warmup + duration, each reply within 5 s. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX  (1u << 20)
#define TIMEOUT_MS 5000

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *msg)
{
    fprintf(stderr, "lookup_pace: %s\n", msg);
    exit(1);
}

static char reply[REPLY_MAX];

/* Sends line (with its newline) and reads one reply line into `reply`; returns its length. */
static size_t roundtrip(int fd, const char *line, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write to the daemon failed");
        off += (size_t)w;
    }
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, TIMEOUT_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("no reply within 5 s");
        ssize_t n = read(fd, reply + got, REPLY_MAX - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("the daemon closed the connection");
        got += (size_t)n;
        if (reply[got - 1] == '\n')
            break;
        if (got >= REPLY_MAX - 1)
            die("reply too long");
    }
    reply[got] = '\0';
    return got;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double p)
{
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return (double)v[rank - 1] / 1000.0;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *names_path = NULL, *label = "lookups";
    double rate = 200, duration = 10, warmup = 1;
    static const struct option longopts[] = {
        {"unix", required_argument, NULL, 'u'},   {"names", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},   {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'}, {"label", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "u:n:r:d:w:l:h", longopts, NULL)) != -1) {
        switch (o) {
        case 'u':
            path = optarg;
            break;
        case 'n':
            names_path = optarg;
            break;
        case 'r':
            rate = strtod(optarg, NULL);
            break;
        case 'd':
            duration = strtod(optarg, NULL);
            break;
        case 'w':
            warmup = strtod(optarg, NULL);
            break;
        case 'l':
            label = optarg;
            break;
        case 'h':
            puts("Usage: lookup_pace --unix PATH --names FILE [--rate N] [--duration SEC] "
                 "[--warmup SEC] [--label L]");
            return 0;
        default:
            return 2;
        }
    }
    if (!path || !names_path || rate <= 0 || rate > 100000 || duration <= 0 || duration > 3600 ||
        warmup < 0 || warmup > 3600)
    {
        fprintf(stderr, "lookup_pace: needs --unix and --names; rate 0-100000, durations "
                        "0-3600 s\n");
        return 2;
    }

    /* Names. */
    FILE *f = fopen(names_path, "r");
    if (!f)
        die("cannot open the names file");
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (nnames == cap) {
            cap = cap ? cap * 2 : 1024;
            names = realloc(names, cap * sizeof(*names));
            if (!names)
                die("out of memory");
        }
        names[nnames++] = strdup(line);
    }
    fclose(f);
    if (!nnames)
        die("no names in the names file");

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path))
        die("socket path too long");
    strcpy(sun.sun_path, path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        die("cannot connect to the daemon's socket");
    const char init[] = "{\"method\":\"initialize\",\"parameters\":{\"path\":\"x\","
                        "\"timeout\":\"2000\"}}\n";
    roundtrip(fd, init, sizeof(init) - 1);
    if (strncmp(reply, "{\"result\":true", 14) != 0)
        die("initialize failed");

    size_t max_samples = (size_t)(rate * duration) + 16;
    int64_t *lat = malloc(max_samples * sizeof(*lat));
    if (!lat)
        die("out of memory");
    size_t nlat = 0;
    uint64_t seed = 88172645463325252ull;
    int64_t period = (int64_t)(1e9 / rate);
    int64_t t0 = now_ns(), measure_from = t0 + (int64_t)(warmup * 1e9),
            end = measure_from + (int64_t)(duration * 1e9);
    int64_t slot = t0;
    char req[1400];

    while (slot < end) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        const char *name = names[seed % nnames];
        int len = snprintf(req, sizeof(req),
                           "{\"method\":\"lookup\",\"parameters\":{\"local\":\"127.0.0.1\","
                           "\"qname\":\"%s\",\"qtype\":\"ANY\",\"real-remote\":\"127.0.0.1/32\","
                           "\"remote\":\"127.0.0.1\",\"zone-id\":-1}}\n",
                           name);
        if (len < 0 || (size_t)len >= sizeof(req))
            die("name too long");
        int64_t a = now_ns();
        roundtrip(fd, req, (size_t)len);
        int64_t b = now_ns();
        if (strncmp(reply, "{\"result\":[{", 12) != 0) {
            fprintf(stderr, "lookup_pace: %s: unexpected reply %.200s", name, reply);
            return 1;
        }
        if (a >= measure_from && nlat < max_samples)
            lat[nlat++] = b - a;
        slot += period;
        int64_t now = now_ns();
        if (slot < now)
            slot = now; /* fell behind (a stall): do not burst to catch up */
        struct timespec ts = {.tv_sec = slot / 1000000000, .tv_nsec = slot % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
    }
    if (!nlat)
        die("no measured lookups");
    qsort(lat, nlat, sizeof(*lat), cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < nlat; i++)
        sum += (double)lat[i];
    printf("%s n=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f mean_us=%.1f\n",
           label, nlat, pct(lat, nlat, 50), pct(lat, nlat, 90), pct(lat, nlat, 99),
           pct(lat, nlat, 99.9), (double)lat[nlat - 1] / 1000.0, sum / (double)nlat / 1000.0);
    close(fd);
    return 0;
}
