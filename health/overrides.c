/* SPDX-License-Identifier: MIT */
/* Member overrides in a shared, memory-mapped hash table (see overrides.h).
 *
 * DESIGN: OVERRIDES_SLOTS fixed slots, open addressing by key. A slot, once it holds a key,
 * keeps it (clearing an override only sets its kind to NONE), so lock-free readers never see a
 * key move. Writers take an flock on "overrides.lock", fill the text fields first and publish
 * the kind last with a release store; readers load the kind with acquire. An expiry is just a
 * time compared at read, so an override ends by itself without anyone writing.
 *
 * The file is allocated in full when opened (posix_fallocate, not a sparse ftruncate): a store
 * through the mapping into a hole of a full file system is a SIGBUS, not an error. When the
 * state directory cannot be written, the table is mapped read-only (the overrides saved there
 * still apply) or, without a readable file, is an empty anonymous one; the first
 * overrides_set() after that tries the file again and, once it can be written, maps it and
 * swaps the slot pointer. The old mapping stays until overrides_close(): a lock-free reader may
 * still be in it. */
#include "health/overrides.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"

#define OVR_MAGIC "PFOVRD1"

struct ovr_slot {
    uint64_t key; /* 0: free */
    _Atomic uint32_t kind;
    uint32_t reserved;
    _Atomic int64_t until_ms;
    _Atomic int64_t set_ms;
    char name[OVERRIDES_NAME_MAX];
    char reason[OVERRIDES_REASON_MAX];
};

struct ovr_header {
    char magic[8];
    uint32_t nslots;
    uint32_t reserved[13];
};

struct overrides {
    _Atomic(struct ovr_slot *) slots; /* in `map`; swapped once by make_writable() */
    void *map, *old_map;
    size_t size;
    char *dir;
    char *lock_path;
    pthread_mutex_t lock; /* guards readonly, map, old_map */
    bool readonly;
};

_Static_assert(sizeof(struct ovr_header) == 64, "header layout");

const char *override_kind_name(enum override_kind k)
{
    static const char *const names[] = {
        [OVERRIDE_NONE] = "none",
        [OVERRIDE_DRAIN] = "drain",
        [OVERRIDE_DOWN] = "down",
        [OVERRIDE_UP] = "up",
    };
    return (unsigned)k < 4 ? names[k] : "?";
}

uint64_t overrides_key(const char *pool, const char *member)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = pool; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ '/') * 1099511628211ull;
    for (const char *p = member; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h ? h : 1;
}

#define OVR_SIZE (sizeof(struct ovr_header) + OVERRIDES_SLOTS * sizeof(struct ovr_slot))

static struct ovr_slot *slots_of(void *map)
{
    return (struct ovr_slot *)((struct ovr_header *)map + 1);
}

/* Maps "<dir>/overrides.map" read-write, creating, allocating and initialising it as needed. */
static int map_rw(const char *dir, void **ret_map, struct errbuf *err)
{
    char path[4096], lockp[4096];
    size_t size = OVR_SIZE;
    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        return errbuf_set(err, -errno, "cannot create state directory '%s' (%m)", dir);
    if (snprintf(path, sizeof(path), "%s/overrides.map", dir) >= (int)sizeof(path))
        return errbuf_set(err, -ENAMETOOLONG, "state directory path too long");
    /* Size and initialise under the writers' lock, once: a new file is all zeros but its
     * magic. (Not an flock on the mapped file itself: the mapping would keep it locked.) */
    snprintf(lockp, sizeof(lockp), "%s/overrides.lock", dir);
    int lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lfd < 0)
        return errbuf_set(err, -errno, "cannot open '%s' (%m)", lockp);
    int r = 0, fd = -1;
    while (flock(lfd, LOCK_EX) < 0)
        if (errno != EINTR) {
            r = errbuf_set(err, -errno, "cannot lock '%s' (%m)", lockp);
            goto out;
        }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        r = errbuf_set(err, -errno, "cannot open '%s' (%m)", path);
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || ((size_t)st.st_size > size && ftruncate(fd, (off_t)size) < 0)) {
        r = errbuf_set(err, -errno, "cannot size '%s' (%m)", path);
        goto out;
    }
    /* Every block, now (a no-op for a file that has them): see the top of the file. */
    int e = posix_fallocate(fd, 0, (off_t)size);
    if (e) {
        r = errbuf_set(err, -e, "cannot allocate '%s' (%s)", path, strerror(e));
        goto out;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        r = errbuf_set(err, -errno, "cannot map '%s' (%m)", path);
        goto out;
    }
    struct ovr_header *h = p;
    if (memcmp(h->magic, OVR_MAGIC, 8) != 0 || h->nslots != OVERRIDES_SLOTS) {
        memset(p, 0, size);
        memcpy(h->magic, OVR_MAGIC, 8);
        h->nslots = OVERRIDES_SLOTS;
    }
    *ret_map = p;
out:
    if (fd >= 0)
        close(fd); /* the mapping stays */
    close(lfd);
    return r;
}

static overrides_t *wrap(const char *dir, void *map, bool readonly)
{
    overrides_t *o = xcalloc(1, sizeof(*o));
    char path[4096];
    o->map = map;
    atomic_init(&o->slots, slots_of(map));
    o->size = OVR_SIZE;
    o->dir = xstrdup(dir);
    snprintf(path, sizeof(path), "%s/overrides.lock", dir);
    o->lock_path = xstrdup(path);
    pthread_mutex_init(&o->lock, NULL);
    o->readonly = readonly;
    return o;
}

int overrides_open(const char *dir, overrides_t **ret, struct errbuf *err)
{
    void *p;
    int r = map_rw(dir, &p, err);
    if (r < 0)
        return r;
    *ret = wrap(dir, p, false);
    return 0;
}

int overrides_open_readonly(const char *dir, overrides_t **ret, struct errbuf *err)
{
    char path[4096];
    size_t size = OVR_SIZE;
    void *p = MAP_FAILED;
    snprintf(path, sizeof(path), "%s/overrides.map", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        struct ovr_header h;
        if (fstat(fd, &st) == 0 && (size_t)st.st_size == size &&
            pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
            memcmp(h.magic, OVR_MAGIC, 8) == 0 && h.nslots == OVERRIDES_SLOTS)
            p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
    }
    if (p == MAP_FAILED) /* nothing (usable) saved: an empty table */
        p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return errbuf_set(err, -errno, "cannot map an empty override table (%m)");
    *ret = wrap(dir, p, true);
    return 0;
}

bool overrides_readonly(overrides_t *o)
{
    pthread_mutex_lock(&o->lock);
    bool ro = o->readonly;
    pthread_mutex_unlock(&o->lock);
    return ro;
}

void overrides_close(overrides_t *o)
{
    if (!o)
        return;
    munmap(o->map, o->size);
    if (o->old_map)
        munmap(o->old_map, o->size);
    pthread_mutex_destroy(&o->lock);
    free(o->dir);
    free(o->lock_path);
    free(o);
}

/* A read-only table: maps the file read-write if that works now. Under o->lock. */
static int make_writable(overrides_t *o, struct errbuf *err)
{
    void *p;
    struct errbuf why;
    int r = map_rw(o->dir, &p, &why);
    if (r < 0)
        return errbuf_set(err, r, "%s; not saved (the overrides saved before still apply)",
                          why.msg);
    o->old_map = o->map;
    o->map = p;
    atomic_store_explicit(&o->slots, slots_of(p), memory_order_release);
    o->readonly = false;
    return 0;
}

static struct ovr_slot *find(const overrides_t *o, uint64_t key, bool insert)
{
    struct ovr_slot *slots = atomic_load_explicit(&((overrides_t *)o)->slots, memory_order_acquire);
    for (size_t n = 0, i = key & (OVERRIDES_SLOTS - 1); n < OVERRIDES_SLOTS;
         n++, i = (i + 1) & (OVERRIDES_SLOTS - 1))
    {
        struct ovr_slot *s = &slots[i];
        /* Relaxed: a writer in another thread (or process) may be claiming this slot; the kind,
         * loaded with acquire afterwards, is what publishes the rest. */
        uint64_t k = __atomic_load_n(&s->key, __ATOMIC_RELAXED);
        if (k == key)
            return s;
        if (k == 0)
            return insert ? s : NULL;
    }
    return NULL;
}

int overrides_set(overrides_t *o,
                  const char *pool,
                  const char *member,
                  enum override_kind kind,
                  int64_t until_ms,
                  const char *reason,
                  int64_t now_ms,
                  struct errbuf *err)
{
    uint64_t key = overrides_key(pool, member);
    pthread_mutex_lock(&o->lock);
    int r = o->readonly ? make_writable(o, err) : 0;
    void *map = o->map;
    pthread_mutex_unlock(&o->lock);
    if (r < 0)
        return r;
    int fd = open(o->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return errbuf_set(err, -errno, "cannot open '%s' (%m)", o->lock_path);
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            r = errbuf_set(err, -errno, "cannot lock '%s' (%m)", o->lock_path);
            close(fd);
            return r;
        }
    struct ovr_slot *s = find(o, key, kind != OVERRIDE_NONE);
    if (!s) {
        if (kind != OVERRIDE_NONE)
            r = errbuf_set(err, -ENOSPC, "the override table is full (%d entries)",
                           OVERRIDES_SLOTS);
        goto out;
    }
    /* Unpublish first, so a reader never pairs the new text with the old kind. */
    atomic_store_explicit(&s->kind, OVERRIDE_NONE, memory_order_release);
    __atomic_store_n(&s->key, key, __ATOMIC_RELAXED);
    snprintf(s->name, sizeof(s->name), "%s/%s", pool, member);
    snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
    atomic_store_explicit(&s->set_ms, now_ms, memory_order_relaxed);
    atomic_store_explicit(&s->until_ms, until_ms, memory_order_relaxed);
    atomic_store_explicit(&s->kind, (uint32_t)kind, memory_order_release);
    msync(map, o->size, MS_ASYNC);
out:
    close(fd);
    return r;
}

/* Whether slot s, whose kind is not NONE, is in force at now_ms (see OVERRIDES_CLOCK_SLACK_MS). */
static bool in_force(const struct ovr_slot *s, int64_t now_ms)
{
    struct ovr_slot *w = (struct ovr_slot *)s;
    int64_t until = atomic_load_explicit(&w->until_ms, memory_order_relaxed);
    if (!until)
        return true;
    int64_t set = atomic_load_explicit(&w->set_ms, memory_order_relaxed);
    return now_ms < until && now_ms >= set - OVERRIDES_CLOCK_SLACK_MS;
}

uint64_t overrides_fingerprint(const overrides_t *o, int64_t now_ms)
{
    uint64_t fp = 0;
    const struct ovr_slot *slots =
        atomic_load_explicit(&((overrides_t *)o)->slots, memory_order_acquire);
    for (uint32_t i = 0; i < OVERRIDES_SLOTS; i++) {
        const struct ovr_slot *s = &slots[i];
        uint32_t kind = atomic_load_explicit(&((struct ovr_slot *)s)->kind, memory_order_acquire);
        if (kind == OVERRIDE_NONE || !in_force(s, now_ms))
            continue;
        /* a sum of per-entry hashes: independent of slot order */
        uint64_t key = __atomic_load_n(&s->key, __ATOMIC_RELAXED);
        uint64_t h = (key ^ ((uint64_t)kind << 61)) * 0x9e3779b97f4a7c15ull;
        fp += h ^ (h >> 29);
    }
    return fp;
}

enum override_kind overrides_get(const overrides_t *o, uint64_t key, int64_t now_ms)
{
    const struct ovr_slot *s = find(o, key, false);
    if (!s)
        return OVERRIDE_NONE;
    uint32_t k = atomic_load_explicit(&((struct ovr_slot *)s)->kind, memory_order_acquire);
    if (k == OVERRIDE_NONE || !in_force(s, now_ms))
        return OVERRIDE_NONE;
    return (enum override_kind)k;
}

bool overrides_info(const overrides_t *o, uint64_t key, int64_t now_ms, struct override_info *ret)
{
    enum override_kind k = overrides_get(o, key, now_ms);
    if (k == OVERRIDE_NONE)
        return false;
    const struct ovr_slot *s = find(o, key, false);
    ret->kind = k;
    ret->until_ms = atomic_load_explicit(&((struct ovr_slot *)s)->until_ms, memory_order_relaxed);
    ret->set_ms = atomic_load_explicit(&((struct ovr_slot *)s)->set_ms, memory_order_relaxed);
    memcpy(ret->name, s->name, sizeof(ret->name));
    ret->name[sizeof(ret->name) - 1] = '\0';
    memcpy(ret->reason, s->reason, sizeof(ret->reason));
    ret->reason[sizeof(ret->reason) - 1] = '\0';
    return true;
}
