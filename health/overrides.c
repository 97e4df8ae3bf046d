/* SPDX-License-Identifier: MIT */
/* Member overrides in a shared, memory-mapped hash table (see overrides.h).
 *
 * DESIGN: OVERRIDES_SLOTS fixed slots, open addressing by key. A slot, once it holds a key,
 * keeps it (clearing an override only sets its kind to NONE), so lock-free readers never see a
 * key move. Writers take an flock on "overrides.lock", fill the text fields first and publish
 * the kind last with a release store; readers load the kind with acquire. An expiry is just a
 * time compared at read, so an override ends by itself without anyone writing. */
#include "health/overrides.h"

#include <errno.h>
#include <fcntl.h>
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
    int64_t set_ms;
    char name[OVERRIDES_NAME_MAX];
    char reason[OVERRIDES_REASON_MAX];
};

struct ovr_header {
    char magic[8];
    uint32_t nslots;
    uint32_t reserved[13];
};

struct overrides {
    struct ovr_header *hdr;
    struct ovr_slot *slots;
    size_t size;
    char *lock_path;
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

int overrides_open(const char *dir, overrides_t **ret, struct errbuf *err)
{
    char path[4096];
    size_t size = sizeof(struct ovr_header) + OVERRIDES_SLOTS * sizeof(struct ovr_slot);
    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        return errbuf_set(err, -errno, "cannot create state directory '%s' (%m)", dir);
    if (snprintf(path, sizeof(path), "%s/overrides.map", dir) >= (int)sizeof(path))
        return errbuf_set(err, -ENAMETOOLONG, "state directory path too long");
    /* Size and initialise under the writers' lock, once: a new file is all zeros but its
     * magic. (Not an flock on the mapped file itself: the mapping would keep it locked.) */
    char lockp[4096];
    snprintf(lockp, sizeof(lockp), "%s/overrides.lock", dir);
    int lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lfd < 0)
        return errbuf_set(err, -errno, "cannot open '%s' (%m)", lockp);
    int r = 0;
    while (flock(lfd, LOCK_EX) < 0)
        if (errno != EINTR) {
            r = errbuf_set(err, -errno, "cannot lock '%s' (%m)", lockp);
            close(lfd);
            return r;
        }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        r = errbuf_set(err, -errno, "cannot open '%s' (%m)", path);
        close(lfd);
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || ((size_t)st.st_size != size && ftruncate(fd, (off_t)size) < 0)) {
        r = errbuf_set(err, -errno, "cannot size '%s' (%m)", path);
        close(fd);
        close(lfd);
        return r;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        r = errbuf_set(err, -errno, "cannot map '%s' (%m)", path);
        close(fd);
        close(lfd);
        return r;
    }
    struct ovr_header *h = p;
    if (memcmp(h->magic, OVR_MAGIC, 8) != 0 || h->nslots != OVERRIDES_SLOTS) {
        memset(p, 0, size);
        memcpy(h->magic, OVR_MAGIC, 8);
        h->nslots = OVERRIDES_SLOTS;
    }
    close(fd); /* the mapping stays */
    close(lfd);
    overrides_t *o = xcalloc(1, sizeof(*o));
    o->hdr = h;
    o->slots = (struct ovr_slot *)(h + 1);
    o->size = size;
    snprintf(path, sizeof(path), "%s/overrides.lock", dir);
    o->lock_path = xstrdup(path);
    *ret = o;
    return 0;
}

void overrides_close(overrides_t *o)
{
    if (!o)
        return;
    munmap(o->hdr, o->size);
    free(o->lock_path);
    free(o);
}

static struct ovr_slot *find(const overrides_t *o, uint64_t key, bool insert)
{
    for (size_t n = 0, i = key & (OVERRIDES_SLOTS - 1); n < OVERRIDES_SLOTS;
         n++, i = (i + 1) & (OVERRIDES_SLOTS - 1))
    {
        struct ovr_slot *s = &o->slots[i];
        if (s->key == key)
            return s;
        if (s->key == 0)
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
    int fd = open(o->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return errbuf_set(err, -errno, "cannot open '%s' (%m)", o->lock_path);
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            int r = errbuf_set(err, -errno, "cannot lock '%s' (%m)", o->lock_path);
            close(fd);
            return r;
        }
    int r = 0;
    struct ovr_slot *s = find(o, key, kind != OVERRIDE_NONE);
    if (!s) {
        if (kind != OVERRIDE_NONE)
            r = errbuf_set(err, -ENOSPC, "the override table is full (%d entries)",
                           OVERRIDES_SLOTS);
        goto out;
    }
    /* Unpublish first, so a reader never pairs the new text with the old kind. */
    atomic_store_explicit(&s->kind, OVERRIDE_NONE, memory_order_release);
    s->key = key;
    snprintf(s->name, sizeof(s->name), "%s/%s", pool, member);
    snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
    s->set_ms = now_ms;
    atomic_store_explicit(&s->until_ms, until_ms, memory_order_relaxed);
    atomic_store_explicit(&s->kind, (uint32_t)kind, memory_order_release);
    msync(o->hdr, o->size, MS_ASYNC);
out:
    close(fd);
    return r;
}

uint64_t overrides_fingerprint(const overrides_t *o, int64_t now_ms)
{
    uint64_t fp = 0;
    for (uint32_t i = 0; i < o->hdr->nslots; i++) {
        const struct ovr_slot *s = &o->slots[i];
        uint32_t kind = atomic_load_explicit(&((struct ovr_slot *)s)->kind, memory_order_acquire);
        if (kind == OVERRIDE_NONE)
            continue;
        int64_t until =
            atomic_load_explicit(&((struct ovr_slot *)s)->until_ms, memory_order_relaxed);
        if (until && until <= now_ms)
            continue;
        /* a sum of per-entry hashes: independent of slot order */
        uint64_t h = (s->key ^ ((uint64_t)kind << 61)) * 0x9e3779b97f4a7c15ull;
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
    int64_t until = atomic_load_explicit(&((struct ovr_slot *)s)->until_ms, memory_order_relaxed);
    if (k == OVERRIDE_NONE || (until && now_ms >= until))
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
    ret->set_ms = s->set_ms;
    memcpy(ret->name, s->name, sizeof(ret->name));
    ret->name[sizeof(ret->name) - 1] = '\0';
    memcpy(ret->reason, s->reason, sizeof(ret->reason));
    ret->reason[sizeof(ret->reason) - 1] = '\0';
    return true;
}
