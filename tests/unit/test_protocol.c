/* SPDX-License-Identifier: MIT */
/* Unit tests for backend/protocol.c: line framing over a bounded buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "backend/protocol.h"

#define MAX_LINE 64

static void feed_str(struct proto_lines *pl, const char *s)
{
    proto_feed(pl, s, strlen(s));
}

/* Asserts that the next result is a line with exactly this text. */
static void expect_line(struct proto_lines *pl, const char *text)
{
    const char *line = NULL;
    size_t len = 0;
    assert_int_equal(proto_next(pl, &line, &len), PROTO_LINE);
    assert_non_null(line);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(line, text, len);
}

static void expect_need_more(struct proto_lines *pl)
{
    const char *line = NULL;
    size_t len = 0;
    assert_int_equal(proto_next(pl, &line, &len), PROTO_NEED_MORE);
}

static void expect_too_long(struct proto_lines *pl)
{
    const char *line = NULL;
    size_t len = 0;
    assert_int_equal(proto_next(pl, &line, &len), PROTO_TOO_LONG);
}

static void test_proto_has_nothing_before_any_input(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    expect_need_more(&pl);
    assert_int_equal(proto_pending(&pl), 0);
    const char *line = NULL;
    size_t len = 0;
    assert_int_equal(proto_finish(&pl, &line, &len), PROTO_NEED_MORE);
    proto_free(&pl);
}

static void test_proto_returns_one_line_without_its_newline(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    feed_str(&pl, "{\"method\":\"lookup\"}\n");
    expect_line(&pl, "{\"method\":\"lookup\"}");
    expect_need_more(&pl);
    assert_int_equal(proto_pending(&pl), 0);
    proto_free(&pl);
}

static void test_proto_joins_a_line_split_across_feeds(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    feed_str(&pl, "{\"meth");
    expect_need_more(&pl);
    assert_int_equal(proto_pending(&pl), 6);
    feed_str(&pl, "od\":");
    expect_need_more(&pl);
    feed_str(&pl, "1}");
    expect_need_more(&pl);
    feed_str(&pl, "\nnext");
    expect_line(&pl, "{\"method\":1}");
    expect_need_more(&pl);
    assert_int_equal(proto_pending(&pl), 4);
    feed_str(&pl, "\n");
    expect_line(&pl, "next");
    proto_free(&pl);
}

static void test_proto_feeds_one_byte_at_a_time(void **state)
{
    (void)state;
    static const char input[] = "abc\ndefgh\n\nxyz\n";
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    const char *want[] = {"abc", "defgh", "", "xyz"};
    size_t got = 0;
    for (size_t i = 0; i < strlen(input); i++) {
        proto_feed(&pl, input + i, 1);
        const char *line;
        size_t len;
        enum proto_result r;
        while ((r = proto_next(&pl, &line, &len)) == PROTO_LINE) {
            assert_true(got < 4);
            assert_int_equal(len, strlen(want[got]));
            assert_memory_equal(line, want[got], len);
            got++;
        }
        assert_int_equal(r, PROTO_NEED_MORE);
    }
    assert_int_equal(got, 4);
    proto_free(&pl);
}

static void test_proto_returns_several_lines_from_one_feed_in_order(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    feed_str(&pl, "first\nsecond\n\nfourth\nparti");
    expect_line(&pl, "first");
    expect_line(&pl, "second");
    expect_line(&pl, ""); /* an empty line is a line; dispatch rejects it */
    expect_line(&pl, "fourth");
    expect_need_more(&pl);
    assert_int_equal(proto_pending(&pl), 5);
    feed_str(&pl, "al\n");
    expect_line(&pl, "partial");
    expect_need_more(&pl);
    proto_free(&pl);
}

static void test_proto_keeps_a_carriage_return_before_the_newline(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    feed_str(&pl, "crlf\r\nbare\rcr\n");
    expect_line(&pl, "crlf\r");
    expect_line(&pl, "bare\rcr");
    expect_need_more(&pl);
    proto_free(&pl);
}

static void test_proto_passes_nul_bytes_through(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    proto_feed(&pl, "a\0b\n", 4);
    const char *line;
    size_t len;
    assert_int_equal(proto_next(&pl, &line, &len), PROTO_LINE);
    assert_int_equal(len, 3);
    assert_memory_equal(line, "a\0b", 3);
    proto_free(&pl);
}

static void test_proto_accepts_a_line_of_exactly_max_line_bytes(void **state)
{
    (void)state;
    char buf[MAX_LINE + 2];
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    memset(buf, 'x', MAX_LINE);
    buf[MAX_LINE] = '\0';
    proto_feed(&pl, buf, MAX_LINE);
    expect_need_more(&pl); /* not yet too long: the newline may come next */
    feed_str(&pl, "\n");
    expect_line(&pl, buf);
    proto_free(&pl);
}

static void test_proto_counts_the_carriage_return_toward_the_limit(void **state)
{
    (void)state;
    char buf[MAX_LINE + 3];
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    memset(buf, 'x', MAX_LINE);
    memcpy(buf + MAX_LINE, "\r\n", 3);
    feed_str(&pl, buf);
    expect_too_long(&pl);
    expect_need_more(&pl);
    proto_free(&pl);
}

static void test_proto_reports_a_long_line_once_then_serves_the_next(void **state)
{
    (void)state;
    char big[MAX_LINE + 2];
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    memset(big, 'x', sizeof(big));

    /* No newline yet: reported as soon as it passes max_line. */
    proto_feed(&pl, big, MAX_LINE + 1);
    expect_too_long(&pl);
    /* More of the same line: skipped silently, never reported again. */
    expect_need_more(&pl);
    proto_feed(&pl, big, sizeof(big));
    expect_need_more(&pl);
    proto_feed(&pl, big, sizeof(big));
    expect_need_more(&pl);
    assert_int_equal(proto_pending(&pl), 0);
    /* Its newline ends the skipping; the line after it is served whole. */
    feed_str(&pl, "xxx\n{\"ok\":1}\n");
    expect_line(&pl, "{\"ok\":1}");
    expect_need_more(&pl);
    proto_free(&pl);
}

static void test_proto_reports_a_long_line_with_its_newline_in_the_same_feed(void **state)
{
    (void)state;
    char buf[3 * MAX_LINE];
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    memset(buf, 'y', sizeof(buf));
    buf[2 * MAX_LINE] = '\n';
    memcpy(buf + 2 * MAX_LINE + 1, "after\n", 7);
    feed_str(&pl, buf);
    expect_too_long(&pl);
    expect_line(&pl, "after");
    expect_need_more(&pl);
    proto_free(&pl);
}

static void test_proto_serves_lines_before_a_long_line(void **state)
{
    (void)state;
    char buf[3 * MAX_LINE];
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    strcpy(buf, "one\ntwo\n");
    memset(buf + 8, 'z', 2 * MAX_LINE);
    buf[8 + 2 * MAX_LINE] = '\0';
    feed_str(&pl, buf);
    expect_line(&pl, "one");
    expect_line(&pl, "two");
    expect_too_long(&pl);
    expect_need_more(&pl);
    feed_str(&pl, "\nthree\n");
    expect_line(&pl, "three");
    proto_free(&pl);
}

static void test_proto_reports_two_long_lines_separately(void **state)
{
    (void)state;
    char buf[MAX_LINE + 2];
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    memset(buf, 'q', MAX_LINE + 1);
    buf[MAX_LINE + 1] = '\0';
    feed_str(&pl, buf);
    expect_too_long(&pl);
    feed_str(&pl, "\n");
    expect_need_more(&pl);
    feed_str(&pl, buf);
    expect_too_long(&pl);
    feed_str(&pl, "\nlast\n");
    expect_line(&pl, "last");
    proto_free(&pl);
}

static void test_proto_finish_returns_a_final_unterminated_line(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    feed_str(&pl, "done\ntail\r");
    expect_line(&pl, "done");
    expect_need_more(&pl);
    const char *line = NULL;
    size_t len = 0;
    assert_int_equal(proto_finish(&pl, &line, &len), PROTO_LINE);
    assert_int_equal(len, 5);
    assert_memory_equal(line, "tail\r", 5);
    /* Returned only once. */
    assert_int_equal(proto_finish(&pl, &line, &len), PROTO_NEED_MORE);
    assert_int_equal(proto_pending(&pl), 0);
    proto_free(&pl);
}

static void test_proto_finish_has_nothing_after_a_complete_line(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    feed_str(&pl, "whole\n");
    expect_line(&pl, "whole");
    const char *line = NULL;
    size_t len = 0;
    assert_int_equal(proto_finish(&pl, &line, &len), PROTO_NEED_MORE);
    proto_free(&pl);
}

static void test_proto_finish_drops_the_rest_of_a_long_line(void **state)
{
    (void)state;
    char big[2 * MAX_LINE];
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    memset(big, 'x', sizeof(big));
    proto_feed(&pl, big, sizeof(big));
    expect_too_long(&pl);
    proto_feed(&pl, big, 10);
    const char *line = NULL;
    size_t len = 0;
    assert_int_equal(proto_finish(&pl, &line, &len), PROTO_NEED_MORE);
    proto_free(&pl);
}

static void test_proto_reserve_and_commit_append_like_feed(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    size_t room = 0;
    char *p = proto_reserve(&pl, 16, &room);
    assert_non_null(p);
    assert_true(room >= 16);
    memcpy(p, "abc\nde", 6);
    proto_commit(&pl, 6);
    expect_line(&pl, "abc");
    p = proto_reserve(&pl, 16, &room);
    assert_true(room >= 16);
    memcpy(p, "f\n", 2);
    proto_commit(&pl, 2);
    expect_line(&pl, "def");
    expect_need_more(&pl);
    proto_free(&pl);
}

static void test_proto_memory_stays_bounded_while_a_huge_line_streams_in(void **state)
{
    (void)state;
    enum { LIMIT = 4096, CHUNK = 16384, TOTAL = 64 * 1024 * 1024 };
    static char chunk[CHUNK];
    struct proto_lines pl;
    proto_init(&pl, LIMIT);
    memset(chunk, 'h', sizeof(chunk));

    int too_long = 0;
    size_t max_cap = 0;
    for (size_t sent = 0; sent < TOTAL; sent += CHUNK) {
        size_t room;
        char *p = proto_reserve(&pl, CHUNK, &room);
        assert_true(room >= CHUNK);
        memcpy(p, chunk, CHUNK);
        proto_commit(&pl, CHUNK);
        const char *line;
        size_t len;
        enum proto_result r;
        while ((r = proto_next(&pl, &line, &len)) != PROTO_NEED_MORE) {
            assert_int_equal(r, PROTO_TOO_LONG);
            too_long++;
        }
        if (pl.buf.cap > max_cap)
            max_cap = pl.buf.cap;
    }
    assert_int_equal(too_long, 1);
    /* max_line + one chunk (+ NUL), rounded up by the doubling growth: never more than twice. */
    assert_true(max_cap <= 2 * (LIMIT + CHUNK + 1));

    feed_str(&pl, "\n{\"method\":\"lookup\"}\n");
    expect_line(&pl, "{\"method\":\"lookup\"}");
    expect_need_more(&pl);
    assert_true(pl.buf.cap <= 2 * (LIMIT + CHUNK + 1));
    proto_free(&pl);
}

static void test_proto_memory_stays_bounded_when_a_partial_line_is_always_pending(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    size_t max_cap = 0;
    /* Every feed completes the previous line and starts the next, so the buffer never drains;
     * the consumed head must still be reclaimed. */
    feed_str(&pl, "{\"id\":");
    for (int i = 0; i < 100000; i++) {
        feed_str(&pl, "1}\n{\"id\":");
        expect_line(&pl, "{\"id\":1}");
        expect_need_more(&pl);
        assert_int_equal(proto_pending(&pl), 6);
        if (pl.buf.cap > max_cap)
            max_cap = pl.buf.cap;
    }
    assert_true(max_cap <= 256);
    proto_free(&pl);
}

static void test_proto_gives_back_a_big_buffer_once_its_line_is_consumed(void **state)
{
    (void)state;
    enum { BIG = 3 * PROTO_KEEP_BYTES };
    static char big[BIG + 1];
    struct proto_lines pl;
    proto_init(&pl, 4 * PROTO_KEEP_BYTES);
    memset(big, 'x', BIG);
    big[BIG] = '\n';
    proto_feed(&pl, big, BIG + 1);
    const char *line;
    size_t len;
    assert_int_equal(proto_next(&pl, &line, &len), PROTO_LINE);
    assert_int_equal(len, BIG);
    assert_true(pl.buf.cap > BIG);
    /* Answered: an idle connection does not keep the request's 3 MB. */
    expect_need_more(&pl);
    assert_true(pl.buf.cap <= PROTO_KEEP_BYTES);
    size_t room;
    proto_reserve(&pl, 16384, &room);
    assert_true(room >= 16384);
    feed_str(&pl, "{\"method\":\"lookup\"}\n");
    expect_line(&pl, "{\"method\":\"lookup\"}");
    /* A big buffer still holding part of a line is kept. */
    proto_feed(&pl, big, BIG);
    expect_need_more(&pl);
    proto_reserve(&pl, 16384, &room);
    assert_int_equal(proto_pending(&pl), BIG);
    proto_feed(&pl, "\n", 1);
    assert_int_equal(proto_next(&pl, &line, &len), PROTO_LINE);
    assert_int_equal(len, BIG);
    proto_free(&pl);
}

static void test_proto_free_releases_the_buffer_and_tolerates_null(void **state)
{
    (void)state;
    struct proto_lines pl;
    proto_init(&pl, MAX_LINE);
    feed_str(&pl, "pending");
    proto_free(&pl);
    assert_null(pl.buf.p);
    assert_int_equal(proto_pending(&pl), 0);
    proto_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_has_nothing_before_any_input),
        cmocka_unit_test(test_proto_returns_one_line_without_its_newline),
        cmocka_unit_test(test_proto_joins_a_line_split_across_feeds),
        cmocka_unit_test(test_proto_feeds_one_byte_at_a_time),
        cmocka_unit_test(test_proto_returns_several_lines_from_one_feed_in_order),
        cmocka_unit_test(test_proto_keeps_a_carriage_return_before_the_newline),
        cmocka_unit_test(test_proto_passes_nul_bytes_through),
        cmocka_unit_test(test_proto_accepts_a_line_of_exactly_max_line_bytes),
        cmocka_unit_test(test_proto_counts_the_carriage_return_toward_the_limit),
        cmocka_unit_test(test_proto_reports_a_long_line_once_then_serves_the_next),
        cmocka_unit_test(test_proto_reports_a_long_line_with_its_newline_in_the_same_feed),
        cmocka_unit_test(test_proto_serves_lines_before_a_long_line),
        cmocka_unit_test(test_proto_reports_two_long_lines_separately),
        cmocka_unit_test(test_proto_finish_returns_a_final_unterminated_line),
        cmocka_unit_test(test_proto_finish_has_nothing_after_a_complete_line),
        cmocka_unit_test(test_proto_finish_drops_the_rest_of_a_long_line),
        cmocka_unit_test(test_proto_reserve_and_commit_append_like_feed),
        cmocka_unit_test(test_proto_memory_stays_bounded_while_a_huge_line_streams_in),
        cmocka_unit_test(test_proto_memory_stays_bounded_when_a_partial_line_is_always_pending),
        cmocka_unit_test(test_proto_gives_back_a_big_buffer_once_its_line_is_consumed),
        cmocka_unit_test(test_proto_free_releases_the_buffer_and_tolerates_null),
    };
    return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
