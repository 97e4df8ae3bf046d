/* SPDX-License-Identifier: MIT */
/* lookup_bench: a load driver for pdns-failover that talks to it the way pdns does on the query
 * path (docs/pdns-remote-protocol.md sections 2, 3, 8.2 and 9).
 *
 *   lookup_bench --unix PATH --names FILE [-c CONNS] ...   connect CONNS times to the daemon
 *   lookup_bench --pipe "CMD ARGS" --names FILE [-c N] ...  spawn N co-processes, as pdns does
 *   lookup_bench --unix PATH --names FILE -k 64 --pid PID   the backend alone: 64 in flight
 *
 * Every connection (or co-process) starts with `initialize`; the first one then asks
 * `getAllDomains` for the zone ids. After that each connection keeps exactly one `lookup` (qtype
 * ANY, with the client addresses pdns sends) in flight: send, wait for the reply, check it, send
 * the next. One thread drives all connections with poll(), so the figures include a little of
 * this driver's own cost. Every reply must be one line starting with {"result":, nothing more
 * may arrive before the next request, a name from the names file must give records, and a made-up
 * name (--miss) must give none.
 *
 * With --pipeline K (not something pdns does) each connection instead writes K request lines at
 * once and reads the K replies, in order, before it writes the next K: this measures what the
 * backend itself can answer, without a round trip per lookup. Given the daemon's --pid (pipe
 * mode knows its co-processes), it also reports the daemon's CPU time (utime + stime from
 * /proc/PID/stat) over the measured window, as lookups per daemon-CPU-second.
 *
 * Needs nothing but libc. Bounded: the run lasts --warmup plus --duration seconds (or stops
 * earlier at --count lookups), and every reply must come within --timeout milliseconds. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS       256
#define MAX_REPLY       (64u * 1024 * 1024)
#define MAX_ZONES       100000
#define MAX_NAME        1024
#define RESULT_PREFIX   "{\"result\":"
#define REPORTED_ERRORS 5
#define PIPE_START_MS   60000 /* a co-process loads the whole store before it answers */
#define MAX_DEPTH       4096
#define MAX_REQUEST     (MAX_NAME * 3 + 512) /* one lookup line, escaped name included */

enum mode { MODE_NONE, MODE_UNIX, MODE_PIPE };

struct opts {
    enum mode mode;
    const char *target; /* socket path or command line */
    const char *names;
    unsigned conns;
    double duration, warmup;
    uint64_t count; /* 0: no limit but the duration */
    unsigned miss_permille;
    uint64_t seed;
    unsigned timeout_ms;
    bool header;
    unsigned depth; /* --pipeline: requests in flight per connection; 0: one, as pdns */
    pid_t pid;      /* --pid: the daemon whose CPU time is reported; 0: none */
};

struct zone {
    char *name;
    size_t len;
    long long id;
};

struct name {
    char *json; /* JSON-escaped, without quotes */
    size_t len;
    const struct zone *zone;
};

/* One request of a pipelined batch: what its reply must be. */
struct slot {
    uint32_t name; /* index into names */
    uint32_t nx;   /* the made-up number of a miss */
    bool miss;
};

struct conn {
    int rfd, wfd;
    pid_t pid;
    char *buf;
    size_t len, cap;
    bool busy, measured, miss;
    uint64_t sent_ns;
    char qname[2 * MAX_NAME + 64]; /* JSON-escaped */
    /* --pipeline only */
    struct slot *slots; /* the batch in flight, in order */
    unsigned nslots, got;
    char *wbuf; /* the batch's request lines; wbuf[woff..wlen) not written yet */
    size_t wlen, woff;
};

static struct conn conns[MAX_CONNS];
static unsigned nconns;
static struct zone *zones;
static size_t nzones;
static struct name *names;
static size_t nnames;

static uint64_t *lat;
static size_t nlat, caplat;
static uint64_t reply_bytes;
static uint64_t nmiss, bad_content;

static uint64_t rng_state;

/* ---- small helpers ------------------------------------------------------------------------ */

static void cleanup_children(void);

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("lookup_bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cleanup_children();
    exit(1);
}

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
    va_list ap;
    fputs("lookup_bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = xrealloc(NULL, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: deterministic for a given --seed. */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Appends s as the inside of a JSON string. Returns false on a control character. */
static bool json_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20)
            return false;
        if (o + 3 > cap)
            return false;
        if (c == '"' || c == '\\')
            out[o++] = '\\';
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- connections -------------------------------------------------------------------------- */

static void cleanup_children(void)
{
    for (unsigned i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->wfd >= 0 && c->wfd != c->rfd)
            close(c->wfd);
        if (c->rfd >= 0)
            close(c->rfd);
        c->rfd = c->wfd = -1;
    }
    /* Co-processes exit on EOF on stdin; give them 5 s, then SIGKILL (by pid). */
    uint64_t deadline = now_ns() + 5000000000u;
    for (unsigned i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        while (c->pid > 0) {
            int st;
            pid_t r = waitpid(c->pid, &st, WNOHANG);
            if (r == c->pid || (r < 0 && errno != EINTR)) {
                if (r == c->pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
                    note("co-process %d ended with status 0x%x", (int)c->pid, st);
                c->pid = 0;
            } else if (r == 0 && now_ns() > deadline) {
                note("co-process %d did not exit on EOF; killing it", (int)c->pid);
                kill(c->pid, SIGKILL);
                waitpid(c->pid, &st, 0);
                c->pid = 0;
            } else if (r == 0) {
                struct timespec ts = {0, 10000000};
                nanosleep(&ts, NULL);
            }
        }
    }
}

static void conn_connect_unix(struct conn *c, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        die("%s: socket path too long", path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect %s: %s", path, strerror(errno));
    c->rfd = c->wfd = fd;
}

/* Splits cmd on single spaces as pdns does (two spaces give an empty argument); no shell. */
static char **split_command(const char *cmd)
{
    size_t n = 1;
    for (const char *p = cmd; *p; p++)
        n += *p == ' ';
    char **argv = xrealloc(NULL, (n + 1) * sizeof(*argv));
    size_t i = 0;
    const char *start = cmd;
    for (const char *p = cmd;; p++) {
        if (*p == ' ' || *p == '\0') {
            argv[i++] = xstrndup(start, (size_t)(p - start));
            if (!*p)
                break;
            start = p + 1;
        }
    }
    argv[i] = NULL;
    return argv;
}

static void conn_spawn(struct conn *c, char **argv)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* stderr stays ours, as pdns leaves it; SIGPIPE stays ignored across exec. */
        if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(argv[0], argv);
        fprintf(stderr, "lookup_bench: execv %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->pid = pid;
    c->wfd = in[1];
    c->rfd = out[0];
}

/* Reads until the buffer holds a complete line. Returns the line length without the newline.
 * Dies on EOF, a read error or a timeout. */
static size_t conn_wait_line(struct conn *c, unsigned timeout_ms)
{
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
        if (nl)
            return (size_t)(nl - c->buf);
        uint64_t now = now_ns();
        if (now >= deadline)
            die("no complete reply line within %u ms", timeout_ms);
        struct pollfd pfd = {.fd = c->rfd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1);
        if (r < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (r <= 0)
            continue;
        if (c->cap - c->len < 4096) {
            if (c->cap >= MAX_REPLY)
                die("reply longer than %u bytes", MAX_REPLY);
            c->cap = c->cap ? c->cap * 2 : 65536;
            c->buf = xrealloc(c->buf, c->cap);
        }
        ssize_t n = read(c->rfd, c->buf + c->len, c->cap - c->len);
        if (n < 0 && errno != EINTR)
            die("read: %s", strerror(errno));
        if (n == 0)
            die("the backend closed the connection (EOF)");
        if (n > 0)
            c->len += (size_t)n;
    }
}

/* Sends one request line and returns the reply line (NUL-terminated in c->buf, no newline). */
static char *conn_call(struct conn *c, const char *req, unsigned timeout_ms)
{
    if (write_all(c->wfd, req, strlen(req)) < 0)
        die("write: %s", strerror(errno));
    size_t n = conn_wait_line(c, timeout_ms);
    if (c->len != n + 1)
        die("more than one line arrived for one request: %.200s", c->buf);
    c->buf[n] = '\0';
    c->len = 0;
    if (strncmp(c->buf, RESULT_PREFIX, strlen(RESULT_PREFIX)) != 0)
        die("reply does not start with %s: %.200s", RESULT_PREFIX, c->buf);
    return c->buf;
}

/* ---- zones and names ---------------------------------------------------------------------- */

/* Picks {"id": N, "zone": "NAME", ...} objects out of a getAllDomains reply. The objects hold no
 * nested objects, and zone names hold no braces, so a flat scan is enough here. */
static void parse_domains(const char *reply)
{
    const char *p = strchr(reply + strlen(RESULT_PREFIX), '[');
    if (!p)
        die("getAllDomains gave no list: %.200s", reply);
    zones = xrealloc(NULL, MAX_ZONES * sizeof(*zones));
    while ((p = strchr(p, '{')) != NULL) {
        const char *end = strchr(p, '}');
        if (!end)
            break;
        const char *id = strstr(p, "\"id\"");
        const char *zn = strstr(p, "\"zone\"");
        if (!id || !zn || id > end || zn > end)
            die("getAllDomains entry without id or zone: %.200s", p);
        id += 4;
        while (*id == ' ' || *id == ':')
            id++;
        zn += 6;
        while (*zn == ' ' || *zn == ':')
            zn++;
        if (*zn != '"')
            die("getAllDomains: zone is not a string: %.200s", p);
        const char *ze = strchr(zn + 1, '"');
        if (!ze || ze > end || memchr(zn + 1, '\\', (size_t)(ze - zn - 1)))
            die("getAllDomains: unexpected zone name: %.200s", p);
        if (nzones == MAX_ZONES)
            die("more than %d zones", MAX_ZONES);
        if ((size_t)(ze - zn - 1) > MAX_NAME)
            die("getAllDomains: zone name longer than %d bytes: %.200s", MAX_NAME, p);
        zones[nzones].id = strtoll(id, NULL, 10);
        zones[nzones].len = (size_t)(ze - zn - 1);
        zones[nzones].name = xstrndup(zn + 1, zones[nzones].len);
        nzones++;
        p = end + 1;
    }
    if (nzones == 0)
        die("getAllDomains listed no zones: %.200s", reply);
}

/* The longest zone that name is in or at (case-insensitive), or NULL. */
static const struct zone *zone_of(const char *name)
{
    const struct zone *best = NULL;
    size_t nl = strlen(name), bl = 0;
    for (size_t i = 0; i < nzones; i++) {
        const char *z = zones[i].name;
        size_t zl = strlen(z);
        if (zl > nl || zl < bl || strcasecmp(name + nl - zl, z) != 0)
            continue;
        if (zl == nl || strcmp(z, ".") == 0 || name[nl - zl - 1] == '.') {
            best = &zones[i];
            bl = zl;
        }
    }
    return best;
}

static void load_names(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("%s: %s", path, strerror(errno));
    char line[MAX_NAME + 2], esc[3 * MAX_NAME];
    size_t cap = 0, lineno = 0, skipped = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t n = strcspn(line, "\r\n");
        if (line[n] == '\0' && !feof(f))
            die("%s:%zu: line too long", path, lineno);
        line[n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        const struct zone *z = zone_of(line);
        if (!z) {
            if (skipped++ < REPORTED_ERRORS)
                note("%s:%zu: %s is in no zone the backend serves; skipped", path, lineno, line);
            continue;
        }
        if (!json_escape(esc, sizeof(esc), line))
            die("%s:%zu: control character in name", path, lineno);
        if (nnames == cap) {
            cap = cap ? cap * 2 : 4096;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[nnames].len = strlen(esc);
        names[nnames].json = xstrndup(esc, names[nnames].len);
        names[nnames].zone = z;
        nnames++;
    }
    fclose(f);
    if (skipped)
        note("%s: %zu names skipped (not in any zone)", path, skipped);
    if (nnames == 0)
        die("%s: no usable names", path);
}

/* ---- the load loop ------------------------------------------------------------------------ */

/* Draws the next name: from the file, or (--miss) a made-up one under the drawn name's zone. */
static struct slot pick_name(const struct opts *o)
{
    struct slot s = {.name = (uint32_t)(rnd() % nnames)};
    s.miss = rnd() % 1000 < o->miss_permille;
    if (s.miss)
        s.nx = (uint32_t)(rnd() % 1000000000u);
    return s;
}

static char *put_bytes(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Writes the JSON-escaped qname of s (no quotes, not terminated) to p, at most
 * 2 * MAX_NAME + 16 bytes. Returns the end. */
static char *put_qname(char *p, const struct slot *s)
{
    const struct name *nm = &names[s->name];
    if (!s->miss)
        return put_bytes(p, nm->json, nm->len);
    p = put_u64(put_bytes(p, "nx", 2), s->nx);
    *p++ = '.';
    return put_bytes(p, nm->zone->name, nm->zone->len);
}

/* Writes the exact lookup line pdns sends (protocol doc section 9), newline included, to p,
 * which has room for MAX_REQUEST bytes. Returns its length. */
static size_t put_lookup(char *p, const struct slot *s)
{
    static const char head[] = "{\"method\": \"lookup\", \"parameters\": {\"local\": "
                               "\"127.0.0.1\", \"qname\": \"";
    static const char mid[] = "\", \"qtype\": \"ANY\", \"real-remote\": \"127.0.0.1/32\", "
                              "\"remote\": \"127.0.0.1\", \"zone-id\": ";
    static const char tail[] = "}}\n";
    char *start = p;
    long long id = names[s->name].zone->id;
    p = put_bytes(p, head, sizeof(head) - 1);
    p = put_qname(p, s);
    p = put_bytes(p, mid, sizeof(mid) - 1);
    if (id < 0)
        *p++ = '-';
    p = put_u64(p, id < 0 ? 0 - (uint64_t)id : (uint64_t)id);
    p = put_bytes(p, tail, sizeof(tail) - 1);
    return (size_t)(p - start);
}

static void send_lookup(struct conn *c, const struct opts *o, bool measured)
{
    char req[MAX_REQUEST];
    struct slot s = pick_name(o);
    c->miss = s.miss;
    *put_qname(c->qname, &s) = '\0';
    size_t n = put_lookup(req, &s);
    c->measured = measured;
    c->busy = true;
    c->sent_ns = now_ns();
    if (write_all(c->wfd, req, n) < 0)
        die("write: %s", strerror(errno));
}

static void record(uint64_t ns)
{
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 1u << 16;
        lat = xrealloc(lat, caplat * sizeof(*lat));
    }
    lat[nlat++] = ns;
}

/* What a reply line (NUL-terminated, without its newline) holds: -1 no result (a framing
 * error), 0 no records ([] or false), 1 records. */
static int reply_kind(const char *line)
{
    if (strncmp(line, RESULT_PREFIX, strlen(RESULT_PREFIX)) != 0)
        return -1;
    const char *r = line + strlen(RESULT_PREFIX);
    while (*r == ' ')
        r++;
    return strncmp(r, "false", 5) != 0 && strncmp(r, "[]", 2) != 0;
}

/* Counts, and notes the first few, wrong answers: a name from the file without records, or a
 * made-up name with some. */
static void wrong_answer(const char *qname, bool miss, const char *line)
{
    if (bad_content++ < REPORTED_ERRORS)
        note("%s should %s records, got: %.200s", qname, miss ? "have no" : "have", line);
}

/* Handles whatever arrived on c. Returns true when its reply is complete. */
static bool on_readable(struct conn *c)
{
    if (c->cap - c->len < 4096) {
        if (c->cap >= MAX_REPLY)
            die("reply to %s longer than %u bytes", c->qname, MAX_REPLY);
        c->cap = c->cap ? c->cap * 2 : 65536;
        c->buf = xrealloc(c->buf, c->cap);
    }
    ssize_t n = read(c->rfd, c->buf + c->len, c->cap - c->len);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return false;
        die("read: %s", strerror(errno));
    }
    if (n == 0)
        die("the backend closed the connection (EOF) while %s was asked", c->qname);
    if (!c->busy)
        die("%zd bytes arrived with no request outstanding: %.200s", n, c->buf + c->len);
    size_t scan = c->len;
    c->len += (size_t)n;
    char *nl = memchr(c->buf + scan, '\n', c->len - scan);
    if (!nl)
        return false;
    uint64_t done = now_ns();
    size_t line = (size_t)(nl - c->buf);
    if (line + 1 != c->len)
        die("more than one line arrived for one request (%s): %.200s", c->qname, c->buf);
    *nl = '\0';
    int kind = reply_kind(c->buf);
    if (kind < 0)
        die("reply to %s does not start with %s: %.200s", c->qname, RESULT_PREFIX, c->buf);
    if ((kind == 0) != c->miss)
        wrong_answer(c->qname, c->miss, c->buf);
    if (c->measured) {
        record(done - c->sent_ns);
        reply_bytes += line + 1;
        nmiss += c->miss;
    }
    c->len = 0;
    c->busy = false;
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted latencies, in microseconds. */
static double pct_us(unsigned pct)
{
    size_t rank = (nlat * pct + 99) / 100;
    if (rank < 1)
        rank = 1;
    return (double)lat[rank - 1] / 1000.0;
}

/* ---- CPU time ------------------------------------------------------------------------------ */

/* utime + stime of pid, all its threads, in seconds (from /proc/PID/stat); -1 when unknown. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: count from its closing one.
     * Then come state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt, majflt,
     * cmajflt, and utime and stime (fields 14 and 15), in clock ticks. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The CPU time of the backend: the --pid daemon, or the co-processes we spawned. */
static double backend_cpu_s(const struct opts *o)
{
    if (o->pid > 0)
        return proc_cpu_s(o->pid);
    double sum = 0;
    bool any = false;
    for (unsigned i = 0; i < nconns; i++) {
        if (conns[i].pid <= 0)
            continue;
        double v = proc_cpu_s(conns[i].pid);
        if (v < 0)
            return -1;
        sum += v;
        any = true;
    }
    return any ? sum : -1;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The measured window: from the first measured request sent to the last measured reply. */
static struct {
    bool started;
    uint64_t start_ns;
    double backend0, self0;
} win;

static void window_start(const struct opts *o, uint64_t now)
{
    if (win.started)
        return;
    win.started = true;
    win.start_ns = now;
    win.backend0 = backend_cpu_s(o);
    win.self0 = self_cpu_s();
}

/* CPU use over the window [win.start_ns, end_ns]: the backend's and ours, in % of one core,
 * and lookups per backend CPU-second (-1 each when unknown). */
static void window_cpu(const struct opts *o,
                       uint64_t end_ns,
                       uint64_t lookups,
                       double *bpct,
                       double *per_s,
                       double *spct)
{
    double wall = (double)(end_ns - win.start_ns) / 1e9;
    double b1 = backend_cpu_s(o), s1 = self_cpu_s();
    double b = win.backend0 >= 0 && b1 >= 0 ? b1 - win.backend0 : -1;
    *bpct = b >= 0 && wall > 0 ? 100.0 * b / wall : -1;
    *per_s = b > 0 ? (double)lookups / b : -1;
    *spct = wall > 0 ? 100.0 * (s1 - win.self0) / wall : -1;
}

static void run(const struct opts *o)
{
    uint64_t t0 = now_ns();
    uint64_t mstart = t0 + (uint64_t)(o->warmup * 1e9);
    uint64_t mend = mstart + (uint64_t)(o->duration * 1e9);
    uint64_t sent_measured = 0, last_done = mstart;
    struct pollfd pfd[MAX_CONNS];
    unsigned idx[MAX_CONNS];

    if (t0 >= mstart)
        window_start(o, t0);
    for (unsigned i = 0; i < nconns; i++) {
        sent_measured += t0 >= mstart;
        send_lookup(&conns[i], o, t0 >= mstart);
    }
    for (;;) {
        unsigned np = 0;
        uint64_t oldest = UINT64_MAX;
        for (unsigned i = 0; i < nconns; i++) {
            if (!conns[i].busy)
                continue;
            pfd[np] = (struct pollfd){.fd = conns[i].rfd, .events = POLLIN};
            idx[np++] = i;
            if (conns[i].sent_ns < oldest)
                oldest = conns[i].sent_ns;
        }
        if (np == 0)
            break;
        uint64_t now = now_ns(), limit = oldest + (uint64_t)o->timeout_ms * 1000000u;
        if (now >= limit)
            die("no reply within %u ms", o->timeout_ms);
        int r = poll(pfd, np, (int)((limit - now) / 1000000u) + 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", strerror(errno));
        }
        for (unsigned k = 0; k < np && r > 0; k++) {
            if (!pfd[k].revents)
                continue;
            struct conn *c = &conns[idx[k]];
            if (!on_readable(c))
                continue;
            now = now_ns();
            if (c->measured)
                last_done = now;
            if (now >= mend || (o->count && sent_measured >= o->count))
                continue; /* this connection is done */
            bool measured = now >= mstart;
            if (measured)
                window_start(o, now);
            sent_measured += measured;
            send_lookup(c, o, measured);
        }
    }

    if (nlat == 0)
        die("no lookups completed in the measured window");
    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    uint64_t sum = 0;
    for (size_t i = 0; i < nlat; i++)
        sum += lat[i];
    double secs = (double)(last_done - mstart) / 1e9;
    if (o->header)
        printf("%-5s %5s %9s %10s %8s %8s %8s %8s %7s %6s\n", "mode", "conns", "requests",
               "lookups/s", "mean_us", "p50_us", "p99_us", "max_us", "bytes", "miss%");
    printf("%-5s %5u %9zu %10.0f %8.1f %8.1f %8.1f %8.1f %7.1f %6.1f\n",
           o->mode == MODE_UNIX ? "unix" : "pipe", nconns, nlat, (double)nlat / secs,
           (double)sum / (double)nlat / 1000.0, pct_us(50), pct_us(99),
           (double)lat[nlat - 1] / 1000.0, (double)reply_bytes / (double)nlat,
           100.0 * (double)nmiss / (double)nlat);
    fflush(stdout);
    double bpct, per_s, spct;
    window_cpu(o, last_done, nlat, &bpct, &per_s, &spct);
    if (bpct >= 0)
        note("backend CPU %.0f%% of one core, %.0f lookups per backend CPU-second; driver CPU "
             "%.0f%%",
             bpct, per_s, spct);
}

/* ---- the pipelined load loop (--pipeline) -------------------------------------------------- */

/* Fills c's next batch: depth request lines, written out as far as the socket takes them. */
static void start_batch(struct conn *c, const struct opts *o, bool measured)
{
    size_t off = 0;
    for (unsigned i = 0; i < o->depth; i++) {
        c->slots[i] = pick_name(o);
        off += put_lookup(c->wbuf + off, &c->slots[i]);
    }
    c->nslots = o->depth;
    c->got = 0;
    c->wlen = off;
    c->woff = 0;
    c->measured = measured;
    c->busy = true;
    c->sent_ns = now_ns();
}

/* Writes what the peer takes of the batch without blocking: it may be answering the first
 * requests while we write the last, and a blocking write could then wait for ever on a backend
 * waiting for us to read. */
static void write_batch(struct conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t w = write(c->wfd, c->wbuf + c->woff, c->wlen - c->woff);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            die("write: %s", strerror(errno));
        }
        c->woff += (size_t)w;
    }
}

static uint64_t nanswered; /* lookups answered in the measured window (pipelined) */

/* Takes the reply lines that arrived on c, in order. Returns true when its batch is answered. */
static bool on_batch_readable(struct conn *c)
{
    if (c->cap - c->len < 16384) {
        if (c->cap >= MAX_REPLY)
            die("reply longer than %u bytes", MAX_REPLY);
        c->cap = c->cap ? c->cap * 2 : 262144;
        c->buf = xrealloc(c->buf, c->cap);
    }
    ssize_t n = read(c->rfd, c->buf + c->len, c->cap - c->len);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return false;
        die("read: %s", strerror(errno));
    }
    if (n == 0)
        die("the backend closed the connection (EOF) with %u of %u replies of a batch read", c->got,
            c->nslots);
    if (!c->busy)
        die("%zd bytes arrived with no request outstanding: %.200s", n, c->buf + c->len);
    char *line = c->buf, *scan = c->buf + c->len, *end = c->buf + c->len + n, *nl;
    c->len += (size_t)n;
    while ((nl = memchr(scan, '\n', (size_t)(end - scan))) != NULL) {
        char qname[2 * MAX_NAME + 64];
        if (c->got == c->nslots)
            die("more reply lines than requests in a batch of %u: %.200s", c->nslots, line);
        const struct slot *s = &c->slots[c->got++];
        *nl = '\0';
        int kind = reply_kind(line);
        if (kind < 0 || (kind == 0) != s->miss) {
            *put_qname(qname, s) = '\0'; /* only now: naming every lookup would cost time */
            if (kind < 0)
                die("reply %u of a batch (to %s) does not start with %s: %.200s", c->got, qname,
                    RESULT_PREFIX, line);
            wrong_answer(qname, s->miss, line);
        }
        if (c->measured) {
            reply_bytes += (size_t)(nl - line) + 1;
            nmiss += s->miss;
            nanswered++;
        }
        line = scan = nl + 1;
    }
    c->len = (size_t)(end - line);
    memmove(c->buf, line, c->len);
    if (c->got < c->nslots)
        return false;
    if (c->len)
        die("data after the last reply of a batch: %.200s", c->buf);
    c->busy = false;
    return true;
}

static void run_pipelined(const struct opts *o)
{
    uint64_t t0 = now_ns();
    uint64_t mstart = t0 + (uint64_t)(o->warmup * 1e9);
    uint64_t mend = mstart + (uint64_t)(o->duration * 1e9);
    uint64_t sent_measured = 0, last_done = mstart;
    struct pollfd pfd[MAX_CONNS];
    unsigned idx[MAX_CONNS];

    for (unsigned i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->slots = xrealloc(NULL, o->depth * sizeof(*c->slots));
        c->wbuf = xrealloc(NULL, (size_t)o->depth * MAX_REQUEST);
        if (fcntl(c->rfd, F_SETFL, fcntl(c->rfd, F_GETFL) | O_NONBLOCK) < 0 ||
            fcntl(c->wfd, F_SETFL, fcntl(c->wfd, F_GETFL) | O_NONBLOCK) < 0)
            die("fcntl: %s", strerror(errno));
    }
    if (t0 >= mstart)
        window_start(o, t0);
    for (unsigned i = 0; i < nconns; i++) {
        sent_measured += t0 >= mstart ? o->depth : 0;
        start_batch(&conns[i], o, t0 >= mstart);
        write_batch(&conns[i]);
    }
    for (;;) {
        unsigned np = 0;
        uint64_t oldest = UINT64_MAX;
        for (unsigned i = 0; i < nconns; i++) {
            struct conn *c = &conns[i];
            if (!c->busy)
                continue;
            short ev = POLLIN | (c->woff < c->wlen ? POLLOUT : 0);
            pfd[np] = (struct pollfd){.fd = c->rfd, .events = ev};
            idx[np++] = i;
            if (c->wfd != c->rfd && (ev & POLLOUT)) { /* a co-process: two pipes */
                pfd[np] = (struct pollfd){.fd = c->wfd, .events = POLLOUT};
                idx[np++] = i;
            }
            if (c->sent_ns < oldest)
                oldest = c->sent_ns;
        }
        if (np == 0)
            break;
        uint64_t now = now_ns(), limit = oldest + (uint64_t)o->timeout_ms * 1000000u;
        if (now >= limit)
            die("a batch of %u was not answered within %u ms", o->depth, o->timeout_ms);
        int r = poll(pfd, np, (int)((limit - now) / 1000000u) + 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", strerror(errno));
        }
        for (unsigned k = 0; k < np && r > 0; k++) {
            struct conn *c = &conns[idx[k]];
            if (!pfd[k].revents || !c->busy)
                continue;
            if (pfd[k].revents & POLLOUT)
                write_batch(c);
            if (pfd[k].fd != c->rfd || !(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (!on_batch_readable(c))
                continue;
            now = now_ns();
            if (c->measured) {
                last_done = now;
                record(now - c->sent_ns);
            }
            if (now >= mend || (o->count && sent_measured >= o->count))
                continue; /* this connection is done */
            bool measured = now >= mstart;
            if (measured)
                window_start(o, now);
            sent_measured += measured ? o->depth : 0;
            start_batch(c, o, measured);
            write_batch(c);
        }
    }

    if (nanswered == 0)
        die("no lookups completed in the measured window");
    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    double secs = (double)(last_done - win.start_ns) / 1e9;
    double bpct, per_s, spct;
    window_cpu(o, last_done, nanswered, &bpct, &per_s, &spct);
    if (o->header)
        printf("%-5s %5s %5s %9s %10s %9s %9s %7s %6s %8s %13s %8s\n", "mode", "conns", "depth",
               "requests", "lookups/s", "batch_p50", "batch_p99", "bytes", "miss%", "backend%",
               "lookups/cpu_s", "driver%");
    printf("%-5s %5u %5u %9" PRIu64 " %10.0f %9.1f %9.1f %7.1f %6.1f ",
           o->mode == MODE_UNIX ? "unix" : "pipe", nconns, o->depth, nanswered,
           (double)nanswered / secs, pct_us(50), pct_us(99),
           (double)reply_bytes / (double)nanswered, 100.0 * (double)nmiss / (double)nanswered);
    if (bpct >= 0)
        printf("%8.0f %13.0f", bpct, per_s);
    else
        printf("%8s %13s", "-", "-");
    printf(" %8.0f\n", spct);
    fflush(stdout);
}

/* ---- setup -------------------------------------------------------------------------------- */

/* VmRSS of pid in kB, or -1. */
static long vm_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static void setup(const struct opts *o)
{
    char esc[4096], req[4200 + 128];
    if (!json_escape(esc, sizeof(esc), o->target))
        die("bad --unix/--pipe argument");
    char **argv = NULL;
    if (o->mode == MODE_PIPE) {
        argv = split_command(o->target);
        if (access(argv[0], X_OK) < 0)
            die("%s: not executable: %s (give a path; there is no $PATH search)", argv[0],
                strerror(errno));
        snprintf(req, sizeof(req),
                 "{\"method\": \"initialize\", \"parameters\": {\"command\": \"%s\", "
                 "\"timeout\": \"2000\"}}\n",
                 esc);
    } else {
        snprintf(req, sizeof(req),
                 "{\"method\": \"initialize\", \"parameters\": {\"path\": \"%s\", "
                 "\"timeout\": \"2000\"}}\n",
                 esc);
    }

    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < o->conns; i++) {
        conns[i].rfd = conns[i].wfd = -1;
        nconns++;
        if (o->mode == MODE_PIPE)
            conn_spawn(&conns[i], argv);
        else
            conn_connect_unix(&conns[i], o->target);
    }
    /* The initialize round trips (for the pipe, this includes each co-process loading the
     * store), in the order the connections were made. */
    for (unsigned i = 0; i < nconns; i++) {
        const char *r =
            conn_call(&conns[i], req, o->mode == MODE_PIPE ? PIPE_START_MS : o->timeout_ms);
        if (strncmp(r, RESULT_PREFIX "true", strlen(RESULT_PREFIX) + 4) != 0)
            die("initialize failed: %.200s", r);
    }
    double ms = (double)(now_ns() - t0) / 1e6;
    if (o->mode == MODE_PIPE)
        note("pipe: %u co-process%s started and initialized in %.1f ms", nconns,
             nconns == 1 ? "" : "es", ms);
    else
        note("unix: %u connection%s made and initialized in %.1f ms", nconns,
             nconns == 1 ? "" : "s", ms);

    const char *r = conn_call(&conns[0],
                              "{\"method\": \"getAllDomains\", \"parameters\": "
                              "{\"include_disabled\": true}}\n",
                              o->timeout_ms);
    parse_domains(r);
    load_names(o->names);
    note("%zu zones, %zu names from %s", nzones, nnames, o->names);

    if (argv) {
        for (char **a = argv; *a; a++)
            free(*a);
        free(argv);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: lookup_bench (--unix PATH | --pipe \"CMD ARGS\") --names FILE [OPTIONS]\n"
            "Sends pdns-style lookup (qtype ANY) requests to a pdns-failover backend, one in\n"
            "flight per connection (K with --pipeline), and prints throughput and latency.\n"
            "\n"
            "  --unix PATH          connect to the daemon's socket\n"
            "  --pipe \"CMD ARGS\"    spawn the backend with pipes (split on spaces, no shell)\n"
            "  --names FILE         names to look up, one per line (from bench/gen-store.py)\n"
            "  -c, --connections N  connections or co-processes (default 1, at most %d)\n"
            "  -d, --duration SEC   measured time (default 3; 60 when --count is given)\n"
            "  -w, --warmup SEC     unmeasured lookups first (default 0.5)\n"
            "  -n, --count N        stop after N measured lookups (or at --duration)\n"
            "  -m, --miss PCT       share of made-up names that must not exist (default 10)\n"
            "      --seed N         name sequence seed (default 1)\n"
            "      --timeout MS     longest wait for any reply (default 5000; a co-process gets\n"
            "                       60 s for its first, initialize)\n"
            "      --no-header      print the result row only\n"
            "  -k, --pipeline K     the backend alone, not as pdns drives it: each connection\n"
            "                       writes K requests at once, then reads the K replies (at\n"
            "                       most %d); prints batch round trips instead of latencies\n"
            "      --pid PID        the daemon behind --unix: report its CPU time (utime +\n"
            "                       stime) over the measured window, and lookups per CPU-second\n"
            "                       (co-processes of --pipe are measured without it)\n"
            "Notes (start-up, zones) go to stderr; the table goes to stdout. Exit status 1 on\n"
            "any protocol error or wrong answer.\n",
            MAX_CONNS, MAX_DEPTH);
}

static double parse_num(const char *opt, const char *s, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= min && v <= max)) {
        fprintf(stderr, "lookup_bench: %s: '%s' is not a number from %g to %g\n", opt, s, min, max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    enum { OPT_UNIX = 256, OPT_PIPE, OPT_NAMES, OPT_SEED, OPT_TIMEOUT, OPT_NOHEADER, OPT_PID };
    static const struct option longopts[] = {
        {"unix", required_argument, NULL, OPT_UNIX},
        {"pipe", required_argument, NULL, OPT_PIPE},
        {"names", required_argument, NULL, OPT_NAMES},
        {"connections", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"count", required_argument, NULL, 'n'},
        {"miss", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"no-header", no_argument, NULL, OPT_NOHEADER},
        {"pipeline", required_argument, NULL, 'k'},
        {"pid", required_argument, NULL, OPT_PID},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.conns = 1,
                     .duration = -1,
                     .warmup = 0.5,
                     .miss_permille = 100,
                     .seed = 1,
                     .timeout_ms = 5000,
                     .header = true};
    int c;
    while ((c = getopt_long(argc, argv, "c:d:w:n:m:k:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_UNIX:
        case OPT_PIPE:
            if (o.mode != MODE_NONE) {
                fprintf(stderr, "lookup_bench: give one of --unix and --pipe\n");
                return 2;
            }
            o.mode = c == OPT_UNIX ? MODE_UNIX : MODE_PIPE;
            o.target = optarg;
            break;
        case OPT_NAMES:
            o.names = optarg;
            break;
        case 'c':
            o.conns = (unsigned)parse_num("--connections", optarg, 1, MAX_CONNS);
            break;
        case 'd':
            o.duration = parse_num("--duration", optarg, 0.01, 3600);
            break;
        case 'w':
            o.warmup = parse_num("--warmup", optarg, 0, 600);
            break;
        case 'n':
            o.count = (uint64_t)parse_num("--count", optarg, 1, 1e10);
            break;
        case 'm':
            o.miss_permille = (unsigned)(parse_num("--miss", optarg, 0, 100) * 10 + 0.5);
            break;
        case OPT_SEED:
            o.seed = (uint64_t)parse_num("--seed", optarg, 0, 1e15);
            break;
        case OPT_TIMEOUT:
            o.timeout_ms = (unsigned)parse_num("--timeout", optarg, 1, 600000);
            break;
        case OPT_NOHEADER:
            o.header = false;
            break;
        case 'k':
            o.depth = (unsigned)parse_num("--pipeline", optarg, 1, MAX_DEPTH);
            break;
        case OPT_PID:
            o.pid = (pid_t)parse_num("--pid", optarg, 1, 4194304);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || o.mode == MODE_NONE || !o.names) {
        usage(stderr);
        return 2;
    }
    if (o.duration < 0)
        o.duration = o.count ? 60 : 3;
    rng_state = o.seed;
    /* As pdns does before it spawns co-processes; a vanished peer is then EPIPE, not death. */
    signal(SIGPIPE, SIG_IGN);

    setup(&o);
    if (o.depth)
        run_pipelined(&o);
    else
        run(&o);
    for (unsigned i = 0; i < nconns; i++)
        if (conns[i].pid > 0) {
            long kb = vm_rss_kb(conns[i].pid);
            if (kb >= 0)
                note("pipe: co-process %d VmRSS %ld kB", (int)conns[i].pid, kb);
        }
    cleanup_children();
    if (bad_content) {
        note("%" PRIu64 " wrong answers (hit without records or miss with records)", bad_content);
        return 1;
    }
    return 0;
}
