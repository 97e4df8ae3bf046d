/* SPDX-License-Identifier: MIT */
/* Shared health map: a memory-mapped file in the state directory (see hmap.h).
 *
 * DESIGN: the file is "health-<set>.map", where <set> is a hash of the keys of all targets in
 * store order, so every process that loaded the same store finds the same file and the same
 * slot index for each target. It is created under a short-lived creation lock (flock on
 * "<map>.init"), written in full to a temporary file and renamed into place, so no reader ever
 * maps a half-built file. Leadership is a separate flock on "<map>.lock", held by the probing
 * process for its lifetime; the kernel releases it when that process dies (SIGKILL included),
 * and the next hmap_try_lead() elsewhere succeeds.
 *
 * When the directory cannot be used (read-only, full, not ours), hmap_open_memory() builds the
 * same layout in anonymous memory, seeded from the maps that can still be read there: this
 * process probes on its own and answers follow health, without sharing or keeping the states.
 *
 * A slot's verdict is published on its own (release store, acquire load). The other fields are
 * diagnostics (health, status, metrics) that readers want as one probe's result: the header
 * holds a sequence count, odd while the leader updates a slot, and readers copy a slot between
 * two equal even counts (a sequence lock). Every field of a slot is read and written with
 * atomic accesses (acquire loads, release stores: plain moves on x86), so that a copy that
 * races with an update is well-defined, and thrown away. */
#include "health/hmap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"

#define HMAP_MAGIC   "PFHMAP1"
#define HMAP_VERSION 1u
/* A reader retries a copy that raced with an update until it gets one whole, unless the count
 * stays at the same odd value this long: a leader killed in the middle of an update (a few
 * stores) left it so, and the copy is taken as it is. */
#define SEQ_STUCK_MS 100

struct hmap_header {
    char magic[8];
    uint32_t version;
    uint32_t nslots;
    uint64_t set_key;
    _Atomic int64_t heartbeat_ms;
    _Atomic int64_t leader_pid;
    _Atomic int64_t heartbeat_boot_ms; /* 0 in maps of versions before it */
    _Atomic uint64_t seq; /* odd while the leader updates a slot; 0 in maps of older versions */
    uint8_t reserved[8];
};

struct hmap {
    struct hmap_header *hdr;
    struct hmap_slot *slots;
    size_t n;
    size_t size;
    int lock_fd;
    bool leader;
    char *path;
};

_Static_assert(sizeof(struct hmap_header) == 64, "header layout");

static uint64_t mix64(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static int lock_file(const char *path, int op, int *ret_fd)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    while (flock(fd, op) < 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        return -e;
    }
    *ret_fd = fd;
    return 0;
}

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Copies slot s of the map with header h into *ret (see the sequence lock above). */
static void slot_copy(const struct hmap_header *h, const struct hmap_slot *s, struct hmap_slot *ret)
{
    _Atomic uint64_t *seq = (_Atomic uint64_t *)&h->seq;
    uint64_t stuck = 0; /* an odd count seen before and after a copy, since stuck_ms */
    int64_t stuck_ms = 0;
    for (unsigned tries = 0;; tries++) {
        uint64_t before = atomic_load_explicit(seq, memory_order_acquire);
        memset(ret, 0, sizeof(*ret));
        ret->key = s->key; /* written once, before the file is in place */
        atomic_init(&ret->verdict, hmap_verdict_of(s));
        ret->ok_run = LOAD(&s->ok_run);
        ret->fail_run = LOAD(&s->fail_run);
        ret->last_result = LOAD(&s->last_result);
        ret->last_latency_us = LOAD(&s->last_latency_us);
        ret->last_probe_ms = LOAD(&s->last_probe_ms);
        ret->since_ms = LOAD(&s->since_ms);
        ret->probes = LOAD(&s->probes);
        ret->failures = LOAD(&s->failures);
        for (size_t k = 0; k < sizeof(ret->reason) - 1; k++)
            ret->reason[k] = LOAD(&s->reason[k]);
        /* The acquire loads above keep this one after them. */
        uint64_t after = atomic_load_explicit(seq, memory_order_relaxed);
        if (before == after && !(before & 1))
            return;
        if (tries < 16)
            continue;
        sched_yield();
        if (before != after) /* the leader is writing */
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (before != stuck) {
            stuck = before;
            stuck_ms = now;
        } else if (now - stuck_ms >= SEQ_STUCK_MS) {
            return;
        }
    }
}

/* Copies the states of matching targets from an older map file into slots. */
static void adopt_from(const char *path, struct hmap_slot *slots, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct hmap_header)) {
        close(fd);
        return;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return;
    const struct hmap_header *h = p;
    size_t m = h->nslots;
    if (memcmp(h->magic, HMAP_MAGIC, 8) != 0 || h->version != HMAP_VERSION ||
        sizeof(*h) + m * sizeof(struct hmap_slot) > (size_t)st.st_size)
    {
        munmap(p, (size_t)st.st_size);
        return;
    }
    const struct hmap_slot *old = (const struct hmap_slot *)(h + 1);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < m; j++) {
            if (old[j].key != slots[i].key)
                continue;
            struct hmap_slot copy; /* its leader may be writing it */
            slot_copy(h, &old[j], &copy);
            if (copy.last_probe_ms > slots[i].last_probe_ms)
                memcpy(&slots[i], &copy, sizeof(slots[i]));
        }
    }
    munmap(p, (size_t)st.st_size);
}

static void adopt_all(const char *dir, const char *self, struct hmap_slot *slots, size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "health-", 7) != 0 || len < 11 ||
            strcmp(de->d_name + len - 4, ".map") != 0 || (self && strcmp(de->d_name, self) == 0))
            continue;
        char path[4096];
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
            adopt_from(path, slots, n);
    }
    closedir(d);
}

/* A new map's contents in buf (zeroed): the targets, with the states of the maps in dir but
 * the one named self (NULL: all of them). */
static void init_map(void *buf,
                     const char *dir,
                     const char *self,
                     const struct target *targets,
                     size_t n,
                     uint64_t set_key)
{
    struct hmap_header *h = buf;
    struct hmap_slot *slots = (struct hmap_slot *)(h + 1);
    memcpy(h->magic, HMAP_MAGIC, 8);
    h->version = HMAP_VERSION;
    h->nslots = (uint32_t)n;
    h->set_key = set_key;
    for (size_t i = 0; i < n; i++) {
        slots[i].key = targets[i].key;
        snprintf(slots[i].reason, sizeof(slots[i].reason), "not probed yet");
    }
    adopt_all(dir, self, slots, n);
}

static int create_map(const char *dir,
                      const char *name,
                      const char *path,
                      const struct target *targets,
                      size_t n,
                      uint64_t set_key,
                      struct errbuf *err)
{
    size_t size = sizeof(struct hmap_header) + n * sizeof(struct hmap_slot);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    unsigned char *buf = xcalloc(1, size);
    init_map(buf, dir, name, targets, n, set_key);

    int r = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        r = errbuf_set(err, -errno, "cannot create '%s' (%m)", tmp);
        goto out;
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, buf + off, size - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            r = errbuf_set(err, -errno, "cannot write '%s' (%m)", tmp);
            close(fd);
            unlink(tmp);
            goto out;
        }
        off += (size_t)w;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        r = errbuf_set(err, -errno, "cannot install '%s' (%m)", path);
        unlink(tmp);
    }
out:
    free(buf);
    return r;
}

/* The map's set key, file name (64 bytes) and path (4096 bytes); -ENAMETOOLONG with a message
 * when dir is too long. */
static int map_name(const char *dir,
                    const struct target *targets,
                    size_t n,
                    uint64_t *set_key,
                    char *name,
                    char *path,
                    struct errbuf *err)
{
    *set_key = 0x5046484d4150ull;
    for (size_t i = 0; i < n; i++)
        *set_key = mix64(*set_key, targets[i].key);
    snprintf(name, 64, "health-%016llx.map", (unsigned long long)*set_key);
    if (snprintf(path, 4096, "%s/%s", dir, name) >= 4096)
        return errbuf_set(err, -ENAMETOOLONG, "state directory path too long");
    return 0;
}

int hmap_open(
    const char *dir, const struct target *targets, size_t n, hmap_t **ret, struct errbuf *err)
{
    hmap_t *m = NULL;
    int init_fd = -1, fd = -1, r;
    char name[64], path[4096], initp[4200], lockp[4200];

    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        return errbuf_set(err, -errno, "cannot create state directory '%s' (%m)", dir);

    uint64_t set_key;
    r = map_name(dir, targets, n, &set_key, name, path, err);
    if (r < 0)
        return r;
    snprintf(initp, sizeof(initp), "%s.init", path);
    snprintf(lockp, sizeof(lockp), "%s.lock", path);

    /* Creation is serialised so that two processes starting together map the same file. */
    r = lock_file(initp, LOCK_EX, &init_fd);
    if (r < 0)
        return errbuf_set(err, r, "cannot lock '%s' (%s)", initp, strerror(-r));
    size_t size = sizeof(struct hmap_header) + n * sizeof(struct hmap_slot);
    struct stat st;
    bool valid = false;
    if (stat(path, &st) == 0 && (size_t)st.st_size == size) {
        fd = open(path, O_RDWR | O_CLOEXEC);
        struct hmap_header h;
        valid = fd >= 0 && pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
                memcmp(h.magic, HMAP_MAGIC, 8) == 0 && h.version == HMAP_VERSION && h.nslots == n &&
                h.set_key == set_key;
        if (fd >= 0 && !valid) {
            close(fd);
            fd = -1;
        }
    }
    if (!valid) {
        r = create_map(dir, name, path, targets, n, set_key, err);
        if (r < 0)
            goto fail;
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            r = errbuf_set(err, -errno, "cannot open '%s' (%m)", path);
            goto fail;
        }
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        r = errbuf_set(err, -errno, "cannot map '%s' (%m)", path);
        goto fail;
    }
    close(fd);
    fd = -1;
    close(init_fd);
    init_fd = -1;

    m = xcalloc(1, sizeof(*m));
    m->hdr = p;
    m->slots = (struct hmap_slot *)(m->hdr + 1);
    m->n = n;
    m->size = size;
    m->path = xstrdup(path);
    m->lock_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (m->lock_fd < 0) {
        r = errbuf_set(err, -errno, "cannot open '%s' (%m)", lockp);
        hmap_close(m);
        return r;
    }
    *ret = m;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    if (init_fd >= 0)
        close(init_fd);
    return r;
}

int hmap_open_memory(
    const char *dir, const struct target *targets, size_t n, hmap_t **ret, struct errbuf *err)
{
    char name[64], path[4096];
    uint64_t set_key;
    int r = map_name(dir, targets, n, &set_key, name, path, err);
    if (r < 0)
        return r;
    size_t size = sizeof(struct hmap_header) + n * sizeof(struct hmap_slot);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return errbuf_set(err, -errno, "cannot map %zu bytes of memory (%m)", size);
    init_map(p, dir, NULL, targets, n, set_key);
    hmap_t *m = xcalloc(1, sizeof(*m));
    m->hdr = p;
    m->slots = (struct hmap_slot *)(m->hdr + 1);
    m->n = n;
    m->size = size;
    m->lock_fd = -1; /* nobody to share with: this process leads */
    char label[4200];
    snprintf(label, sizeof(label), "%s (in memory)", path);
    m->path = xstrdup(label);
    *ret = m;
    return 0;
}

void hmap_close(hmap_t *m)
{
    if (!m)
        return;
    if (m->leader)
        atomic_store(&m->hdr->leader_pid, 0);
    if (m->hdr)
        munmap(m->hdr, m->size);
    if (m->lock_fd >= 0)
        close(m->lock_fd); /* releases leadership */
    free(m->path);
    free(m);
}

size_t hmap_count(const hmap_t *m)
{
    return m->n;
}

const char *hmap_path(const hmap_t *m)
{
    return m->path;
}

enum health_verdict hmap_verdict(const hmap_t *m, size_t i)
{
    return hmap_verdict_of(&m->slots[i]);
}

const struct hmap_slot *hmap_slot_ro(const hmap_t *m, size_t i)
{
    return &m->slots[i];
}

struct hmap_slot *hmap_slot_rw(hmap_t *m, size_t i)
{
    return &m->slots[i];
}

void hmap_slot_get(const hmap_t *m, size_t i, struct hmap_slot *ret)
{
    slot_copy(m->hdr, &m->slots[i], ret);
}

void hmap_slot_put(hmap_t *m, size_t i, const struct hmap_slot *v)
{
    struct hmap_slot *s = &m->slots[i];
    uint64_t seq = atomic_load_explicit(&m->hdr->seq, memory_order_relaxed);
    /* odd: the release stores below keep this one before them */
    atomic_store_explicit(&m->hdr->seq, seq + 1, memory_order_relaxed);
    STORE(&s->ok_run, v->ok_run);
    STORE(&s->fail_run, v->fail_run);
    STORE(&s->last_result, v->last_result);
    STORE(&s->last_latency_us, v->last_latency_us);
    STORE(&s->last_probe_ms, v->last_probe_ms);
    STORE(&s->since_ms, v->since_ms);
    STORE(&s->probes, v->probes);
    STORE(&s->failures, v->failures);
    size_t len = strnlen(v->reason, sizeof(s->reason) - 1);
    for (size_t k = 0; k < sizeof(s->reason); k++)
        STORE(&s->reason[k], k < len ? v->reason[k] : '\0');
    atomic_store_explicit(&m->hdr->seq, seq + 2, memory_order_release);
}

void hmap_set_verdict(hmap_t *m, size_t i, enum health_verdict v)
{
    atomic_store_explicit(&m->slots[i].verdict, (uint32_t)v, memory_order_release);
}

bool hmap_try_lead(hmap_t *m)
{
    if (m->leader)
        return true;
    if (m->lock_fd >= 0 && flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0)
        return false;
    m->leader = true;
    /* A leader killed in the middle of an update left the count odd: even again. */
    uint64_t seq = atomic_load_explicit(&m->hdr->seq, memory_order_relaxed);
    if (seq & 1)
        atomic_store_explicit(&m->hdr->seq, seq + 1, memory_order_release);
    atomic_store(&m->hdr->leader_pid, (int64_t)getpid());
    return true;
}

void hmap_resign(hmap_t *m)
{
    if (!m->leader)
        return;
    int64_t me = (int64_t)getpid();
    atomic_compare_exchange_strong(&m->hdr->leader_pid, &me, 0);
    if (m->lock_fd >= 0)
        flock(m->lock_fd, LOCK_UN);
    m->leader = false;
}

bool hmap_is_leader(const hmap_t *m)
{
    return m->leader;
}

void hmap_heartbeat(hmap_t *m, struct hmap_beat now)
{
    atomic_store_explicit(&m->hdr->heartbeat_ms, now.wall_ms, memory_order_release);
    atomic_store_explicit(&m->hdr->heartbeat_boot_ms, now.boot_ms, memory_order_release);
}

struct hmap_beat hmap_last_heartbeat(const hmap_t *m)
{
    return (struct hmap_beat){
        .wall_ms = atomic_load_explicit(&m->hdr->heartbeat_ms, memory_order_acquire),
        .boot_ms = atomic_load_explicit(&m->hdr->heartbeat_boot_ms, memory_order_acquire),
    };
}

int64_t hmap_silent_ms(struct hmap_beat last, struct hmap_beat now, int64_t watch_boot_ms)
{
    int64_t silent = -1;
    if (last.boot_ms > 0) {
        if (last.boot_ms <= now.boot_ms)
            silent = now.boot_ms - last.boot_ms;
    } else if (last.wall_ms > 0) {
        silent = now.wall_ms > last.wall_ms ? now.wall_ms - last.wall_ms : 0;
    }
    if (watch_boot_ms > 0 && watch_boot_ms <= now.boot_ms &&
        (silent < 0 || now.boot_ms - watch_boot_ms < silent))
        silent = now.boot_ms - watch_boot_ms;
    return silent;
}

long hmap_leader_pid(const hmap_t *m)
{
    return (long)atomic_load(&m->hdr->leader_pid);
}
