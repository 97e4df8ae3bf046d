/* SPDX-License-Identifier: MIT */
/* Durable store writes (see commit.h). */
#include "backend/commit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/file.h>

#include "backend/storefmt.h"
#include "common/jsonkeys.h"
#include "common/sbuf.h"
#include "common/xalloc.h"

#define DOC_MAX_DEPTH 64

/* Parses store text into a document; a file json-c would misread (syntax errors, duplicate
 * keys, whose later copy would silently win) is refused with the loader's messages. */
static int parse_doc(const char *text, size_t len, json_object **doc, struct errlist *errs)
{
    json_tokener *tok = json_tokener_new_ex(DOC_MAX_DEPTH);
    if (!tok)
        xalloc_die("json_tokener_new_ex");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    bool ok =
        json_tokener_get_error(tok) == json_tokener_success && root && !memchr(text, '\0', len);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (ok && end < len &&
           (text[end] == ' ' || text[end] == '\n' || text[end] == '\r' || text[end] == '\t'))
        end++;
    if (ok && end == len) {
        /* counted here; reported below by the loader, with everything else it finds */
        struct errlist dups = ERRLIST_INIT;
        ok = json_report_duplicate_keys(text, len, &dups) == 0;
        errlist_free(&dups);
    } else {
        ok = false;
    }
    if (!ok) {
        size_t before = errlist_count(errs);
        store_t *s = NULL;
        /* for the line and column of what is wrong */
        if (store_build(text, len, &s, errs) == 0)
            store_free(s);
        if (errlist_count(errs) == before)
            errlist_add(errs, "the store file is not valid JSON");
        json_object_put(root);
        return -EINVAL;
    }
    *doc = root;
    return 0;
}

int commit_read(const char *path, json_object **doc, struct errlist *errs)
{
    struct sbuf text = SBUF_INIT;
    int r = store_read_file(path, &text, errs);
    if (r == 0)
        r = parse_doc(sbuf_str(&text), text.len, doc, errs);
    sbuf_free(&text);
    return r;
}

static int lock_store(const char *path, int *ret_fd, struct errlist *errs)
{
    char lp[4096];
    if ((size_t)snprintf(lp, sizeof(lp), "%s.lock", path) >= sizeof(lp)) {
        errlist_add(errs, "store path too long");
        return -ENAMETOOLONG;
    }
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
    if (fd < 0) {
        int e = errno;
        errlist_add(errs, "cannot open the writers' lock '%s': %s", lp, strerror(e));
        return -e;
    }
    for (int waited = 0;; waited += 5) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            errlist_add(errs, "cannot lock '%s': %s", lp, strerror(e));
            close(fd);
            return -e;
        }
        if (waited >= COMMIT_LOCK_WAIT_MS) {
            errlist_add(errs, "another writer has held '%s' for %d ms; try again", lp,
                        COMMIT_LOCK_WAIT_MS);
            close(fd);
            return -EBUSY;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    *ret_fd = fd;
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* write-to-temp, fsync, rename, fsync the directory */
static int replace_file(const char *path,
                        const struct stat *old,
                        const char *data,
                        size_t len,
                        struct stat *ret_st,
                        struct errlist *errs)
{
    char tmp[4096], dir[4096];
    int r, fd = -1;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';

    /* a temp file left by a writer killed mid-way is simply overwritten: we hold the lock */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, old->st_mode & 0666);
    if (fd < 0) {
        r = -errno;
        errlist_add(errs, "cannot create '%s': %s", tmp, strerror(-r));
        return r;
    }
    /* the new file keeps the old one's mode and, when we may, its owner */
    if (fchmod(fd, old->st_mode & 07777) < 0 ||
        (geteuid() == 0 && fchown(fd, old->st_uid, old->st_gid) < 0))
    {
        r = -errno;
        errlist_add(errs, "cannot set the mode or owner of '%s': %s", tmp, strerror(-r));
        goto fail;
    }
    if ((r = write_all(fd, data, len)) < 0) {
        errlist_add(errs, "cannot write '%s': %s", tmp, strerror(-r));
        goto fail;
    }
    if (fsync(fd) < 0) {
        r = -errno;
        errlist_add(errs, "cannot sync '%s' to disk: %s", tmp, strerror(-r));
        goto fail;
    }
    if (ret_st && fstat(fd, ret_st) < 0)
        memset(ret_st, 0, sizeof(*ret_st));
    if (close(fd) < 0) {
        fd = -1;
        r = -errno;
        errlist_add(errs, "cannot write '%s': %s", tmp, strerror(-r));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        r = -errno;
        errlist_add(errs, "cannot rename '%s' to '%s': %s", tmp, path, strerror(-r));
        goto fail;
    }
    /* The rename is durable only once the directory is: without this a crash could bring the
     * old file back after pdns was told the commit succeeded. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0) {
        /* The new file is in place and served: the commit happened, say so, with a warning
         * that it may not survive a power cut. */
        errlist_add(errs, "warning: the store was replaced, but syncing directory '%s' failed: %s",
                    dir, strerror(errno));
    }
    if (dfd >= 0)
        close(dfd);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return r;
}

int commit_apply(const char *path,
                 struct edit_op *ops,
                 size_t n,
                 store_t **ret_store,
                 struct stat *ret_st,
                 bool *changed,
                 struct errlist *errs)
{
    struct sbuf text = SBUF_INIT, out = SBUF_INIT;
    json_object *doc = NULL;
    store_t *s = NULL;
    struct stat st;
    int lock = -1, r;
    struct errbuf err;
    /* A store reached through a symlink is written where it lives (the link stays), and
     * writers using either name share one lock. */
    char *real = realpath(path, NULL);

    if (changed)
        *changed = false;
    if (!real) {
        r = -errno;
        errlist_add(errs, "cannot open the store file '%s': %s", path, strerror(-r));
        return r;
    }
    path = real;
    if ((r = lock_store(path, &lock, errs)) < 0)
        goto out;
    if (stat(path, &st) < 0) {
        r = -errno;
        errlist_add(errs, "cannot stat the store file '%s': %s", path, strerror(-r));
        goto out;
    }
    if ((r = store_read_file(path, &text, errs)) < 0 ||
        (r = parse_doc(sbuf_str(&text), text.len, &doc, errs)) < 0)
        goto out;
    if ((r = edit_apply(doc, ops, n, &err)) < 0) {
        errlist_add(errs, "%s", err.msg);
        goto out;
    }
    struct errlist why = ERRLIST_INIT;
    if ((r = store_build_doc(doc, &s, &why)) < 0) {
        /* the first line says why nothing was written and the first reason; more follow */
        errlist_add(errs, "not written, the store would not load after this edit: %s",
                    why.n ? why.msgs[0] : "(no reason given)");
        for (size_t i = 1; i < why.n; i++)
            errlist_add(errs, "%s", why.msgs[i]);
        errlist_free(&why);
        goto out;
    }
    storefmt_render(doc, &out);
    if (out.len == text.len && memcmp(out.p, text.p, out.len) == 0) {
        if (ret_st)
            *ret_st = st;
    } else {
        if ((r = replace_file(path, &st, out.p, out.len, ret_st, errs)) < 0)
            goto out;
        if (changed)
            *changed = true;
    }
    if (ret_store) {
        *ret_store = s;
        s = NULL;
    }
out:
    store_free(s);
    json_object_put(doc);
    sbuf_free(&text);
    sbuf_free(&out);
    if (lock >= 0)
        close(lock); /* releases the flock */
    free(real);
    return r;
}

int commit_check_format(const char *path, bool *same, struct errlist *errs)
{
    struct sbuf text = SBUF_INIT, out = SBUF_INIT;
    json_object *doc = NULL;
    int r = store_read_file(path, &text, errs);
    if (r == 0 && (r = parse_doc(sbuf_str(&text), text.len, &doc, errs)) == 0) {
        storefmt_render(doc, &out);
        *same = out.len == text.len && memcmp(out.p, text.p, out.len) == 0;
    }
    json_object_put(doc);
    sbuf_free(&text);
    sbuf_free(&out);
    return r;
}
