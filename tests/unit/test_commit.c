/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/commit.c: durable store edits on a store file in a temporary
 * directory (made with mkdtemp, removed after each test). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/commit.h"
#include "backend/edit.h"
#include "backend/rdata.h"
#include "backend/storefmt.h"
#include "common/sbuf.h"
#include "tests/unit/helpers.h"

/* One line, not the canonical layout. */
#define COMPACT                                                                           \
    "{\"zones\":{\"example.com.\":{\"ttl\":3600,\"records\":{\"@\":[{\"type\":\"SOA\","   \
    "\"content\":"                                                                        \
    "\"ns1 hostmaster 1 7200 3600 1209600 300\"},{\"type\":\"NS\",\"content\":\"ns1\"}]," \
    "\"ns1\":[{\"type\":\"A\",\"content\":\"192.0.2.53\"}],"                              \
    "\"www\":[{\"type\":\"A\",\"content\":\"192.0.2.10\",\"ttl\":60}]}}}}"

/* COMPACT in the canonical layout. */
#define CANON_HEAD                                                                              \
    "{\n"                                                                                       \
    "  \"zones\": {\n"                                                                          \
    "    \"example.com.\": {\n"                                                                 \
    "      \"ttl\": 3600,\n"                                                                    \
    "      \"records\": {\n"                                                                    \
    "        \"@\": [\n"                                                                        \
    "          {\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"},\n" \
    "          {\"type\": \"NS\", \"content\": \"ns1\"}\n"                                      \
    "        ],\n"                                                                              \
    "        \"ns1\": [{\"type\": \"A\", \"content\": \"192.0.2.53\"}],\n"
#define CANON_TAIL "      }\n    }\n  }\n}\n"
#define CANON                                                                               \
    CANON_HEAD "        \"www\": [{\"type\": \"A\", \"content\": \"192.0.2.10\", \"ttl\": " \
               "60}]\n" CANON_TAIL

struct fx {
    char dir[64];
    char path[128];
    char tmp[160];
    char lock[160];
    struct errlist errs;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/pf-commit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/store.json", f->dir);
    snprintf(f->tmp, sizeof(f->tmp), "%s.tmp", f->path);
    snprintf(f->lock, sizeof(f->lock), "%s.lock", f->path);
    f->errs = (struct errlist)ERRLIST_INIT;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    errlist_free(&f->errs);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

/* The file's bytes (heap string). */
static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    struct sbuf b = SBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        sbuf_put(&b, buf, n);
    fclose(fp);
    return sbuf_take(&b);
}

static void expect_file(const char *path, const char *want)
{
    char *got = read_file(path);
    if (strcmp(got, want) != 0)
        print_error("file %s is:\n%s\nwanted:\n%s\n", path, got, want);
    assert_string_equal(got, want);
    free(got);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void print_errs(const struct errlist *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_error("  [%zu] %s\n", i, errs->msgs[i]);
}

static void expect_errs_contain(const struct errlist *errs, const char *part)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->msgs[i], part))
            return;
    print_error("no message contains '%s'; got:\n", part);
    print_errs(errs);
    fail();
}

/* How many messages equal msg. */
static size_t count_msg(const struct errlist *errs, const char *msg)
{
    size_t n = 0;
    for (size_t i = 0; i < errs->n; i++)
        n += strcmp(errs->msgs[i], msg) == 0;
    return n;
}

static json_object *parse(const char *json)
{
    json_object *o = json_tokener_parse(json);
    assert_non_null(o);
    return o;
}

/* replaceRRSet of (qname, qtype) in example.com. with one record, or none (content NULL). */
static void replace_op(
    struct edit_op *op, const char *qname, const char *qtype, const char *content, unsigned ttl)
{
    char p[1024];
    if (content)
        snprintf(p, sizeof(p),
                 "{\"domain_id\": 1, \"qname\": \"%s\", \"qtype\": \"%s\", \"trxid\": 1, "
                 "\"rrset\": [{\"qtype\": \"%s\", \"qname\": \"%s\", \"qclass\": 1, \"content\": "
                 "\"%s\", \"ttl\": %u, \"auth\": true}]}",
                 qname, qtype, qtype, qname, content, ttl);
    else
        snprintf(p, sizeof(p),
                 "{\"domain_id\": 1, \"qname\": \"%s\", \"qtype\": \"%s\", \"trxid\": 1, "
                 "\"rrset\": []}",
                 qname, qtype);
    json_object *params = parse(p);
    struct errbuf err = {{0}};
    int r = edit_op_replace(params, "example.com.", op, &err);
    if (r < 0)
        print_error("edit_op_replace: %s\n", err.msg);
    assert_int_equal(r, 0);
    json_object_put(params);
}

static int
commit(struct fx *f, struct edit_op *ops, size_t n, store_t **s, struct stat *st, bool *changed)
{
    errlist_free(&f->errs);
    f->errs = (struct errlist)ERRLIST_INIT;
    return commit_apply(f->path, ops, n, s, st, changed, &f->errs);
}

static void
commit_ok(struct fx *f, struct edit_op *ops, size_t n, store_t **s, struct stat *st, bool *changed)
{
    int r = commit(f, ops, n, s, st, changed);
    if (r != 0) {
        print_error("commit_apply returned %d:\n", r);
        print_errs(&f->errs);
    }
    assert_int_equal(r, 0);
    assert_int_equal(errlist_count(&f->errs), 0);
}

/* ---- commit_apply ------------------------------------------------------------------------- */

static void test_commit_writes_the_edit_in_the_canonical_layout(void **state)
{
    struct fx *f = *state;
    write_file(f->path, COMPACT);
    struct edit_op op;
    replace_op(&op, "www.example.com.", "A", "192.0.2.11", 60);
    store_t *s = NULL;
    struct stat st;
    bool changed = false;
    commit_ok(f, &op, 1, &s, &st, &changed);
    assert_true(changed);
    expect_file(f->path, CANON_HEAD "        \"www\": [{\"type\": \"A\", \"content\": "
                                    "\"192.0.2.11\", \"ttl\": 60}]\n" CANON_TAIL);

    /* The store returned is the new one. */
    assert_non_null(s);
    const struct store_node *n = helpers_find(s, "www.example.com.", 0);
    assert_non_null(n);
    assert_int_equal(n->nrr, 1);
    assert_string_equal(n->rrs[0].content, "192.0.2.11");
    assert_int_equal(n->rrs[0].ttl, 60);
    store_free(s);

    /* The stat is the new file's. */
    struct stat now;
    assert_int_equal(stat(f->path, &now), 0);
    assert_int_equal(st.st_ino, now.st_ino);
    assert_int_equal(st.st_dev, now.st_dev);
    assert_int_equal(st.st_size, now.st_size);
    assert_int_equal(st.st_mtim.tv_sec, now.st_mtim.tv_sec);
    assert_int_equal(st.st_mtim.tv_nsec, now.st_mtim.tv_nsec);

    /* The file loads as it says. */
    assert_int_equal(store_load_file(f->path, &s, &f->errs), 0);
    assert_string_equal(helpers_find(s, "www.example.com.", 0)->rrs[0].content, "192.0.2.11");
    store_free(s);
    edit_op_clear(&op);
}

static void test_commit_applies_every_op_in_order(void **state)
{
    struct fx *f = *state;
    write_file(f->path, CANON);
    struct edit_op ops[3];
    replace_op(&ops[0], "www.example.com.", "A", NULL, 0);
    replace_op(&ops[1], "ftp.example.com.", "A", "192.0.2.21", 3600);
    replace_op(&ops[2], "ftp.example.com.", "A", "192.0.2.22", 300);
    commit_ok(f, ops, 3, NULL, NULL, NULL);
    expect_file(f->path,
                CANON_HEAD "        \"ftp\": [{\"type\": \"A\", \"content\": \"192.0.2.22\", "
                           "\"ttl\": 300}]\n" CANON_TAIL);
    for (int i = 0; i < 3; i++)
        edit_op_clear(&ops[i]);
}

static void test_commit_keeps_the_file_mode(void **state)
{
    struct fx *f = *state;
    static const mode_t modes[] = {0640, 0600, 0664};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        write_file(f->path, COMPACT);
        assert_int_equal(chmod(f->path, modes[i]), 0);
        struct stat before;
        assert_int_equal(stat(f->path, &before), 0);
        struct edit_op op;
        replace_op(&op, "www.example.com.", "A", "192.0.2.11", 60);
        commit_ok(f, &op, 1, NULL, NULL, NULL);
        struct stat after;
        assert_int_equal(stat(f->path, &after), 0);
        assert_int_not_equal(after.st_ino, before.st_ino); /* a new file, renamed into place */
        assert_int_equal(after.st_mode & 07777, modes[i]);
        assert_true(S_ISREG(after.st_mode));
        edit_op_clear(&op);
    }
}

static void test_commit_keeps_the_file_owner_when_root(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0) {
        skip();
        return;
    }
    write_file(f->path, COMPACT);
    assert_int_equal(chown(f->path, 4321, 8765), 0);
    struct edit_op op;
    replace_op(&op, "www.example.com.", "A", "192.0.2.11", 60);
    commit_ok(f, &op, 1, NULL, NULL, NULL);
    struct stat after;
    assert_int_equal(stat(f->path, &after), 0);
    assert_int_equal(after.st_uid, 4321);
    assert_int_equal(after.st_gid, 8765);
    edit_op_clear(&op);
}

static void test_commit_leaves_no_temporary_file(void **state)
{
    struct fx *f = *state;
    write_file(f->path, COMPACT);
    /* One left by a writer killed mid-way is overwritten, then renamed away. */
    write_file(f->tmp, "garbage");
    struct edit_op op;
    replace_op(&op, "www.example.com.", "A", "192.0.2.11", 60);
    commit_ok(f, &op, 1, NULL, NULL, NULL);
    assert_false(exists(f->tmp));
    edit_op_clear(&op);

    /* A refused edit leaves none either. */
    replace_op(&op, "www.example.com.", "CNAME", "ns1.example.com", 60);
    assert_int_equal(commit(f, &op, 1, NULL, NULL, NULL), -EINVAL);
    assert_false(exists(f->tmp));
    edit_op_clear(&op);

    /* The directory holds the store and the writers' lock, nothing else. */
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "test \"$(ls -A '%s' | tr '\\n' ' ')\" = 'store.json store.json.lock '", f->dir);
    assert_int_equal(system(cmd), 0);
}

static void test_commit_refuses_a_result_that_would_not_load(void **state)
{
    struct fx *f = *state;
    write_file(f->path, COMPACT);
    struct edit_op op;
    replace_op(&op, "www.example.com.", "CNAME", "ns1.example.com", 60);
    store_t *s = NULL;
    bool changed = true;
    assert_int_equal(commit(f, &op, 1, &s, NULL, &changed), -EINVAL);
    assert_null(s);
    assert_false(changed);
    /* Why nothing was written, with the loader's reason on the same line. */
    if (f->errs.n != 1)
        print_errs(&f->errs);
    assert_int_equal(f->errs.n, 1);
    assert_non_null(strstr(f->errs.msgs[0], "not written, the store would not load after this "
                                            "edit: zones[\"example.com.\"].records[\"www\"]"));
    assert_non_null(strstr(f->errs.msgs[0], "CNAME"));
    /* Byte for byte what it was: not even reformatted. */
    expect_file(f->path, COMPACT);
    edit_op_clear(&op);
}

static void test_commit_refuses_an_edit_that_fails_to_apply(void **state)
{
    struct fx *f = *state;
    write_file(f->path, COMPACT);
    struct edit_op op;
    struct errbuf err;
    assert_int_equal(edit_op_delete_zone("example.org", &op, &err), 0);
    assert_int_equal(commit(f, &op, 1, NULL, NULL, NULL), -ENOENT);
    assert_int_equal(f->errs.n, 1);
    assert_string_equal(f->errs.msgs[0], "zone 'example.org.' is not in the store");
    expect_file(f->path, COMPACT);
    edit_op_clear(&op);
}

static void test_commit_refuses_a_file_with_a_syntax_error(void **state)
{
    struct fx *f = *state;
    static const char broken[] = "{\"zones\": {\n  \"example.com.\": {\"records\": {,}}\n}}\n";
    write_file(f->path, broken);
    struct edit_op op;
    replace_op(&op, "www.example.com.", "A", "192.0.2.11", 60);
    assert_int_equal(commit(f, &op, 1, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(f->errs.n, 1);
    assert_string_equal(
        f->errs.msgs[0],
        "line 2, column 32: JSON syntax error: quoted object property name expected");
    expect_file(f->path, broken);
    edit_op_clear(&op);

    /* Truncated, and data after the object. */
    write_file(f->path, "{\"zones\": {");
    assert_int_equal(commit(f, NULL, 0, NULL, NULL, NULL), -EINVAL);
    expect_errs_contain(&f->errs, "line 1, column 12: JSON syntax error: unexpected end of input");
    write_file(f->path, COMPACT " x");
    assert_int_equal(commit(f, NULL, 0, NULL, NULL, NULL), -EINVAL);
    expect_errs_contain(&f->errs, "line 1, column 252: JSON syntax error: ");
    expect_file(f->path, COMPACT " x");
}

static void test_commit_refuses_a_file_with_duplicate_keys_once(void **state)
{
    struct fx *f = *state;
    /* json-c would keep the second "www" and drop the first without a word. */
    static const char dup[] =
        "{\"zones\": {\"example.com.\": {\"records\": {\n"
        "\"@\": [{\"type\": \"SOA\", \"content\": \"ns1 hostmaster 1 7200 3600 1209600 300\"}, "
        "{\"type\": \"NS\", \"content\": \"ns1\"}],\n"
        "\"www\": [{\"type\": \"A\", \"content\": \"192.0.2.10\"}],\n"
        "\"www\": [{\"type\": \"A\", \"content\": \"192.0.2.11\"}]}}}}\n";
    write_file(f->path, dup);
    struct edit_op op;
    replace_op(&op, "ftp.example.com.", "A", "192.0.2.21", 60);
    assert_int_equal(commit(f, &op, 1, NULL, NULL, NULL), -EINVAL);
    static const char msg[] = "line 4, column 1: duplicate key \"www\" in one object (the one at "
                              "line 3, column 1 would be "
                              "ignored)";
    if (count_msg(&f->errs, msg) != 1) {
        print_error("wanted exactly once: %s\ngot:\n", msg);
        print_errs(&f->errs);
    }
    edit_op_clear(&op); /* before the checks: a failure leaks nothing */
    expect_file(f->path, dup);
    /* Each failure is reported once. */
    assert_int_equal(count_msg(&f->errs, msg), 1);
    assert_int_equal(errlist_count(&f->errs), 1);
}

static void test_commit_of_a_missing_file_fails(void **state)
{
    struct fx *f = *state;
    char want[512];
    assert_int_equal(commit(f, NULL, 0, NULL, NULL, NULL), -ENOENT);
    snprintf(want, sizeof(want), "cannot open the store file '%s': No such file or directory",
             f->path);
    assert_int_equal(f->errs.n, 1);
    assert_string_equal(f->errs.msgs[0], want);
    assert_false(exists(f->path));

    /* In a directory that does not exist. */
    char path[200];
    snprintf(path, sizeof(path), "%s/nodir/store.json", f->dir);
    errlist_free(&f->errs);
    f->errs = (struct errlist)ERRLIST_INIT;
    assert_int_equal(commit_apply(path, NULL, 0, NULL, NULL, NULL, &f->errs), -ENOENT);
    snprintf(want, sizeof(want), "cannot open the store file '%s': No such file or directory",
             path);
    assert_int_equal(f->errs.n, 1);
    assert_string_equal(f->errs.msgs[0], want);
}

/* A store reached through a symlink is written where it lives; the link stays a link. */
static void test_commit_writes_through_a_symlink(void **state)
{
    struct fx *f = *state;
    char link[200], lock[220];
    write_file(f->path, COMPACT);
    snprintf(link, sizeof(link), "%s/link.json", f->dir);
    assert_int_equal(symlink("store.json", link), 0);
    struct edit_op op;
    replace_op(&op, "www.example.com.", "A", "192.0.2.11", 60);
    errlist_free(&f->errs);
    f->errs = (struct errlist)ERRLIST_INIT;
    assert_int_equal(commit_apply(link, &op, 1, NULL, NULL, NULL, &f->errs), 0);
    edit_op_clear(&op);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    expect_file(f->path, CANON_HEAD "        \"www\": [{\"type\": \"A\", \"content\": "
                                    "\"192.0.2.11\", \"ttl\": 60}]\n" CANON_TAIL);
    /* one lock for both names: the real file's */
    snprintf(lock, sizeof(lock), "%s.lock", link);
    assert_false(exists(lock));
    assert_true(exists(f->lock));
    unlink(link);
}

static void test_commit_of_nothing_rewrites_in_the_canonical_layout(void **state)
{
    struct fx *f = *state;
    write_file(f->path, COMPACT);
    bool changed = false;
    store_t *s = NULL;
    commit_ok(f, NULL, 0, &s, NULL, &changed);
    assert_true(changed);
    expect_file(f->path, CANON);
    assert_non_null(s);
    assert_int_equal(store_record_count(s), 4);
    store_free(s);

    /* Already canonical: not written again (same inode), and the stat is the file's. */
    struct stat before, st, after;
    assert_int_equal(stat(f->path, &before), 0);
    changed = true;
    commit_ok(f, NULL, 0, NULL, &st, &changed);
    assert_false(changed);
    assert_int_equal(stat(f->path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_int_equal(st.st_ino, before.st_ino);
    assert_int_equal(st.st_size, before.st_size);
    assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    expect_file(f->path, CANON);
}

static void test_commit_of_an_edit_that_changes_nothing_does_not_write(void **state)
{
    struct fx *f = *state;
    write_file(f->path, CANON);
    struct stat before, after;
    assert_int_equal(stat(f->path, &before), 0);
    struct edit_op op;
    replace_op(&op, "www.example.com.", "A", "192.0.2.10", 60);
    bool changed = true;
    store_t *s = NULL;
    commit_ok(f, &op, 1, &s, NULL, &changed);
    assert_false(changed);
    assert_non_null(s); /* still the store to serve */
    store_free(s);
    assert_int_equal(stat(f->path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    expect_file(f->path, CANON);
    edit_op_clear(&op);
}

static void test_commit_gives_up_on_a_held_lock(void **state)
{
    struct fx *f = *state;
    write_file(f->path, COMPACT);
    /* Another writer: its own open file description, so the flock conflicts. */
    int fd = open(f->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    struct edit_op op;
    replace_op(&op, "www.example.com.", "A", "192.0.2.11", 60);
    store_t *s = NULL;
    assert_int_equal(commit(f, &op, 1, &s, NULL, NULL), -EBUSY);
    assert_null(s);
    char want[256];
    snprintf(want, sizeof(want), "another writer has held '%s' for %d ms; try again", f->lock,
             COMMIT_LOCK_WAIT_MS);
    assert_int_equal(f->errs.n, 1);
    assert_string_equal(f->errs.msgs[0], want);
    expect_file(f->path, COMPACT);
    assert_false(exists(f->tmp));

    /* Released: the same edit goes through, and the lock is free again afterwards. */
    assert_int_equal(flock(fd, LOCK_UN), 0);
    commit_ok(f, &op, 1, NULL, NULL, NULL);
    expect_file(f->path, CANON_HEAD "        \"www\": [{\"type\": \"A\", \"content\": "
                                    "\"192.0.2.11\", \"ttl\": 60}]\n" CANON_TAIL);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    close(fd);
    edit_op_clear(&op);
}

static void test_commit_the_serial_rule_applies_to_the_file_as_it_is_now(void **state)
{
    struct fx *f = *state;
    /* A transaction read serial 1 and bumps it to 2; meanwhile another writer committed 5. */
    write_file(f->path, COMPACT);
    struct edit_op op;
    replace_op(&op, "example.com.", "SOA",
               "ns1.example.com hostmaster.example.com 2 7200 3600 1209600 300", 3600);
    json_object *doc = NULL;
    assert_int_equal(commit_read(f->path, &doc, &f->errs), 0);
    struct errbuf err;
    assert_int_equal(edit_apply(doc, &op, 1, &err), 0);
    json_object_put(doc);
    char *text = read_file(f->path);
    char *p = strstr(text, "hostmaster 1 ");
    assert_non_null(p);
    p[11] = '5';
    write_file(f->path, text);
    free(text);
    store_t *s = NULL;
    commit_ok(f, &op, 1, &s, NULL, NULL);
    assert_int_equal(helpers_zone(s, "example.com.")->serial, 6);
    store_free(s);
    edit_op_clear(&op);
}

/* ---- commit_check_format ------------------------------------------------------------------ */

static void test_commit_check_format_tells_whether_the_file_is_canonical(void **state)
{
    struct fx *f = *state;
    bool same = false;
    write_file(f->path, CANON);
    assert_int_equal(commit_check_format(f->path, &same, &f->errs), 0);
    assert_true(same);
    write_file(f->path, COMPACT);
    assert_int_equal(commit_check_format(f->path, &same, &f->errs), 0);
    assert_false(same);
    /* One byte off: a missing final newline. */
    char canon[] = CANON;
    canon[sizeof(canon) - 2] = '\0';
    write_file(f->path, canon);
    same = true;
    assert_int_equal(commit_check_format(f->path, &same, &f->errs), 0);
    assert_false(same);
    assert_int_equal(errlist_count(&f->errs), 0);
    /* It only looks: the file is left alone. */
    expect_file(f->path, canon);
}

static void test_commit_check_format_reports_syntax_errors_and_missing_files(void **state)
{
    struct fx *f = *state;
    bool same = true;
    write_file(f->path, "{\"zones\": [}");
    assert_int_equal(commit_check_format(f->path, &same, &f->errs), -EINVAL);
    expect_errs_contain(&f->errs, "line 1, column 12: JSON syntax error");
    errlist_free(&f->errs);
    f->errs = (struct errlist)ERRLIST_INIT;
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(commit_check_format(f->path, &same, &f->errs), -ENOENT);
    assert_int_equal(f->errs.n, 1);
    assert_string_equal(f->errs.msgs[0], "cannot open the store file (No such file or directory)");
}

/* ---- commit_read -------------------------------------------------------------------------- */

static void test_commit_read_gives_the_document(void **state)
{
    struct fx *f = *state;
    write_file(f->path, COMPACT);
    json_object *doc = NULL;
    assert_int_equal(commit_read(f->path, &doc, &f->errs), 0);
    assert_non_null(doc);
    struct sbuf out = SBUF_INIT;
    storefmt_render(doc, &out);
    assert_string_equal(sbuf_str(&out), CANON);
    sbuf_free(&out);
    json_object_put(doc);
    /* Reading does not lock or write anything. */
    assert_false(exists(f->lock));
    expect_file(f->path, COMPACT);
}

static void test_commit_read_refuses_what_the_loader_refuses(void **state)
{
    struct fx *f = *state;
    json_object *doc = NULL;
    write_file(f->path, "{\"zones\": {}} {}");
    assert_int_equal(commit_read(f->path, &doc, &f->errs), -EINVAL);
    assert_null(doc);
    expect_errs_contain(&f->errs, "line 1, column 15: JSON syntax error: ");
    errlist_free(&f->errs);
    f->errs = (struct errlist)ERRLIST_INIT;
    write_file(f->path, "{\"zones\": {}, \"zones\": {}}");
    assert_int_equal(commit_read(f->path, &doc, &f->errs), -EINVAL);
    assert_null(doc);
    expect_errs_contain(&f->errs, "duplicate key \"zones\"");
    errlist_free(&f->errs);
    f->errs = (struct errlist)ERRLIST_INIT;
    /* A NUL byte in the file. */
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite("{\"zones\": {}}\0", 1, 14, fp), 14);
    fclose(fp);
    assert_int_equal(commit_read(f->path, &doc, &f->errs), -EINVAL);
    assert_null(doc);
    expect_errs_contain(&f->errs, "NUL");
    errlist_free(&f->errs);
    f->errs = (struct errlist)ERRLIST_INIT;
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(commit_read(f->path, &doc, &f->errs), -ENOENT);
    assert_null(doc);
    assert_string_equal(f->errs.msgs[0], "cannot open the store file (No such file or directory)");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_commit_writes_the_edit_in_the_canonical_layout),
        T(test_commit_applies_every_op_in_order),
        T(test_commit_keeps_the_file_mode),
        T(test_commit_keeps_the_file_owner_when_root),
        T(test_commit_leaves_no_temporary_file),
        T(test_commit_refuses_a_result_that_would_not_load),
        T(test_commit_refuses_an_edit_that_fails_to_apply),
        T(test_commit_refuses_a_file_with_a_syntax_error),
        T(test_commit_refuses_a_file_with_duplicate_keys_once),
        T(test_commit_of_a_missing_file_fails),
        T(test_commit_writes_through_a_symlink),
        T(test_commit_of_nothing_rewrites_in_the_canonical_layout),
        T(test_commit_of_an_edit_that_changes_nothing_does_not_write),
        T(test_commit_gives_up_on_a_held_lock),
        T(test_commit_the_serial_rule_applies_to_the_file_as_it_is_now),
        T(test_commit_check_format_tells_whether_the_file_is_canonical),
        T(test_commit_check_format_reports_syntax_errors_and_missing_files),
        T(test_commit_read_gives_the_document),
        T(test_commit_read_refuses_what_the_loader_refuses),
    };
    return cmocka_run_group_tests_name("commit", tests, NULL, NULL);
}
