/* SPDX-License-Identifier: MIT */
/* Unit tests for a state directory that cannot be used (health/overrides, health/hmap): the
 * overrides and health states saved there keep applying, changes fail with the path and the
 * cause, and the next change after the cause is gone is saved. Also: the overrides file is
 * allocated in full, never sparse (a store into a hole of a full file system is a SIGBUS).
 * The tests run as root in CI, where a read-only mode bit stops nothing: a directory where the
 * lock file should be makes the open fail instead (EISDIR). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "health/hmap.h"
#include "health/overrides.h"
#include "tests/unit/helpers.h"

static char *path_in(const char *dir, const char *name)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct stat st;
    assert_int_equal(fstat(fileno(f), &st), 0);
    char *buf = malloc((size_t)st.st_size + 1);
    assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    *len = (size_t)st.st_size;
    return buf;
}

static void test_overrides_file_is_allocated_in_full_even_when_a_header_exists(void **state)
{
    (void)state;
    char *dir = helpers_tmpdir("pf-statedir");
    char *map = path_in(dir, "overrides.map");
    /* A file with a valid header and nothing else, as an interrupted start leaves it: sizing it
     * with ftruncate would leave the rest a hole that a later drain writes into. */
    int fd = open(map, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    assert_true(fd >= 0);
    unsigned char head[64] = "PFOVRD1";
    uint32_t nslots = OVERRIDES_SLOTS;
    memcpy(head + 8, &nslots, sizeof(nslots));
    assert_int_equal(write(fd, head, sizeof(head)), sizeof(head));
    close(fd);

    overrides_t *o = NULL;
    struct errbuf err;
    assert_int_equal(overrides_open(dir, &o, &err), 0);
    struct stat st;
    assert_int_equal(stat(map, &st), 0);
    assert_true(st.st_size > 64 * 1024);
    if ((long long)st.st_blocks * 512 < (long long)st.st_size)
        fail_msg("overrides.map is sparse: %lld bytes allocated of %lld",
                 (long long)st.st_blocks * 512, (long long)st.st_size);
    assert_int_equal(overrides_set(o, "web", "a", OVERRIDE_DRAIN, 0, "", 1, &err), 0);
    overrides_close(o);
    free(map);
    helpers_rmdir_all(dir);
}

static void test_overrides_unwritable_directory_keeps_saved_ones_and_saves_once_fixed(void **state)
{
    (void)state;
    char *dir = helpers_tmpdir("pf-statedir");
    char *lock = path_in(dir, "overrides.lock");
    char *map = path_in(dir, "overrides.map");
    uint64_t a = overrides_key("web", "a"), b = overrides_key("web", "b");
    overrides_t *o = NULL;
    struct errbuf err;
    assert_int_equal(overrides_open(dir, &o, &err), 0);
    assert_false(overrides_readonly(o));
    assert_int_equal(overrides_set(o, "web", "a", OVERRIDE_DRAIN, 0, "saved", 1, &err), 0);
    overrides_close(o);

    /* The directory can no longer be written. */
    assert_int_equal(unlink(lock), 0);
    assert_int_equal(mkdir(lock, 0700), 0);
    size_t len0;
    char *before = slurp(map, &len0);
    assert_int_equal(overrides_open(dir, &o, &err), -EISDIR);
    assert_non_null(strstr(err.msg, "overrides.lock' (Is a directory)"));
    assert_int_equal(overrides_open_readonly(dir, &o, &err), 0);
    assert_true(overrides_readonly(o));
    assert_int_equal(overrides_get(o, a, 2), OVERRIDE_DRAIN); /* still applies */
    struct override_info oi;
    assert_true(overrides_info(o, a, 2, &oi));
    assert_string_equal(oi.reason, "saved");
    int r = overrides_set(o, "web", "b", OVERRIDE_DOWN, 0, "", 2, &err);
    assert_int_equal(r, -EISDIR);
    assert_non_null(strstr(err.msg, lock));
    assert_non_null(strstr(err.msg, "(Is a directory); not saved"));
    assert_int_equal(overrides_get(o, b, 2), OVERRIDE_NONE);
    size_t len1;
    char *after = slurp(map, &len1);
    assert_int_equal(len1, len0);
    assert_memory_equal(after, before, len0); /* untouched */
    free(after);

    /* Fixed: the next change is saved, and the saved ones are kept. */
    assert_int_equal(rmdir(lock), 0);
    assert_int_equal(overrides_set(o, "web", "b", OVERRIDE_DOWN, 0, "", 3, &err), 0);
    assert_false(overrides_readonly(o));
    assert_int_equal(overrides_get(o, a, 3), OVERRIDE_DRAIN);
    assert_int_equal(overrides_get(o, b, 3), OVERRIDE_DOWN);
    overrides_t *other = NULL;
    assert_int_equal(overrides_open(dir, &other, &err), 0);
    assert_int_equal(overrides_get(other, a, 3), OVERRIDE_DRAIN);
    assert_int_equal(overrides_get(other, b, 3), OVERRIDE_DOWN);
    overrides_close(other);
    overrides_close(o);
    free(before);
    free(lock);
    free(map);
    helpers_rmdir_all(dir);
}

static void test_overrides_unwritable_directory_without_a_file_is_an_empty_table(void **state)
{
    (void)state;
    char *dir = helpers_tmpdir("pf-statedir");
    char *lock = path_in(dir, "overrides.lock");
    assert_int_equal(mkdir(lock, 0700), 0);
    overrides_t *o = NULL;
    struct errbuf err;
    assert_true(overrides_open(dir, &o, &err) < 0);
    assert_int_equal(overrides_open_readonly(dir, &o, &err), 0);
    assert_int_equal(overrides_get(o, overrides_key("web", "a"), 1), OVERRIDE_NONE);
    uint64_t fp = overrides_fingerprint(o, 1);
    assert_true(overrides_set(o, "web", "a", OVERRIDE_DRAIN, 0, "", 1, &err) < 0);
    assert_int_equal(overrides_fingerprint(o, 1), fp);
    assert_int_equal(rmdir(lock), 0);
    assert_int_equal(overrides_set(o, "web", "a", OVERRIDE_DRAIN, 0, "", 1, &err), 0);
    assert_int_equal(overrides_get(o, overrides_key("web", "a"), 1), OVERRIDE_DRAIN);
    assert_true(overrides_fingerprint(o, 1) != fp);
    overrides_close(o);
    free(lock);
    helpers_rmdir_all(dir);
}

static struct check_def check = {
    .type = CHECK_HTTP, .interval_ms = 1000, .timeout_ms = 500, .rise = 2, .fall = 3, .path = "/"};

static void target(struct target *t, const char *addr, uint64_t key)
{
    memset(t, 0, sizeof(*t));
    t->check = &check;
    snprintf(t->address, sizeof(t->address), "%s", addr);
    t->family = AF_INET;
    t->port = 80;
    t->key = key;
    t->label = addr;
}

static void test_hmap_in_memory_keeps_saved_states_leads_alone_and_writes_nothing(void **state)
{
    (void)state;
    char *dir = helpers_tmpdir("pf-statedir");
    struct target t[2];
    target(&t[0], "192.0.2.1", 11);
    target(&t[1], "192.0.2.2", 22);
    hmap_t *m = NULL;
    struct errbuf err;
    assert_int_equal(hmap_open(dir, t, 2, &m, &err), 0);
    assert_true(hmap_try_lead(m));
    struct hmap_slot *s = hmap_slot_rw(m, 1);
    s->fail_run = 3;
    s->last_probe_ms = 1000;
    hmap_set_verdict(m, 1, HEALTH_DOWN);
    char *path = strdup(hmap_path(m));
    hmap_close(m);

    /* The directory cannot be used any more. */
    char *init = NULL;
    assert_true(asprintf(&init, "%s.init", path) > 0);
    assert_int_equal(unlink(init), 0);
    assert_int_equal(mkdir(init, 0700), 0);
    size_t len0;
    char *before = slurp(path, &len0);
    assert_true(hmap_open(dir, t, 2, &m, &err) < 0);
    assert_non_null(strstr(err.msg, "(Is a directory)"));

    assert_int_equal(hmap_open_memory(dir, t, 2, &m, &err), 0);
    assert_non_null(strstr(hmap_path(m), "(in memory)"));
    assert_non_null(strstr(hmap_path(m), path));
    assert_int_equal(hmap_verdict(m, 0), HEALTH_UNKNOWN);
    assert_int_equal(hmap_verdict(m, 1), HEALTH_DOWN); /* the saved state */
    assert_int_equal(hmap_slot_ro(m, 1)->fail_run, 3);
    assert_true(hmap_try_lead(m)); /* no lock to take: nobody shares it */
    assert_true(hmap_is_leader(m));
    hmap_set_verdict(m, 1, HEALTH_UP);
    assert_int_equal(hmap_verdict(m, 1), HEALTH_UP);
    hmap_resign(m);
    assert_true(hmap_try_lead(m));
    hmap_close(m);
    size_t len1;
    char *after = slurp(path, &len1);
    assert_int_equal(len1, len0);
    assert_memory_equal(after, before, len0);

    /* A directory that does not exist at all: nothing to seed from, still a map. */
    assert_int_equal(hmap_open_memory("/proc/pf-no-such/dir", t, 2, &m, &err), 0);
    assert_int_equal(hmap_verdict(m, 1), HEALTH_UNKNOWN);
    hmap_close(m);
    free(after);
    free(before);
    free(init);
    free(path);
    helpers_rmdir_all(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overrides_file_is_allocated_in_full_even_when_a_header_exists),
        cmocka_unit_test(test_overrides_unwritable_directory_keeps_saved_ones_and_saves_once_fixed),
        cmocka_unit_test(test_overrides_unwritable_directory_without_a_file_is_an_empty_table),
        cmocka_unit_test(test_hmap_in_memory_keeps_saved_states_leads_alone_and_writes_nothing),
    };
    return cmocka_run_group_tests_name("statedir", tests, NULL, NULL);
}
