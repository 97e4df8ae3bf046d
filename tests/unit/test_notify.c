/* SPDX-License-Identifier: MIT */
/* Unit tests of the pure parts of health/notify.c: the JSON body, the event copy, the backoff
 * schedule, the drop-oldest queue and URL validation. No network. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "common/sbuf.h"
#include "health/notify.h"

static struct notify_event sample_event(void)
{
    struct notify_event ev;
    memset(&ev, 0, sizeof(ev));
    strcpy(ev.pools, "web");
    strcpy(ev.members, "web1");
    strcpy(ev.target, "web1 192.0.2.1:80");
    strcpy(ev.address, "192.0.2.1");
    ev.port = 80;
    ev.check = CHECK_HTTP;
    ev.from = HEALTH_UP;
    ev.to = HEALTH_DOWN;
    strcpy(ev.reason, "http status 503");
    ev.count = 3;
    ev.when_ms = 1796025600123; /* 2026-11-30T08:00:00.123Z */
    strcpy(ev.host, "ns1");
    return ev;
}

/* Parses the body of ev; the caller puts the object. */
static json_object *format_and_parse(const struct notify_event *ev)
{
    struct sbuf b = SBUF_INIT;
    notify_format(ev, &b);
    json_object *o = json_tokener_parse(sbuf_str(&b));
    sbuf_free(&b);
    assert_non_null(o);
    assert_true(json_object_is_type(o, json_type_object));
    return o;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, key, &v));
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static int64_t get_int(json_object *o, const char *key)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, key, &v));
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static void test_notify_format_builds_the_documented_body(void **state)
{
    (void)state;
    struct notify_event ev = sample_event();
    json_object *o = format_and_parse(&ev);

    assert_string_equal(get_str(o, "event"), "transition");
    assert_string_equal(get_str(o, "member"), "web1");
    assert_string_equal(get_str(o, "pool"), "web");
    assert_string_equal(get_str(o, "target"), "web1 192.0.2.1:80");
    assert_string_equal(get_str(o, "address"), "192.0.2.1");
    assert_int_equal(get_int(o, "port"), 80);
    assert_string_equal(get_str(o, "check"), "http");
    assert_string_equal(get_str(o, "from"), "up");
    assert_string_equal(get_str(o, "to"), "down");
    assert_string_equal(get_str(o, "reason"), "http status 503");
    assert_int_equal(get_int(o, "count"), 3);
    assert_string_equal(get_str(o, "time"), "2026-11-30T08:00:00.123Z");
    assert_string_equal(get_str(o, "host"), "ns1");
    assert_string_equal(get_str(o, "version"), PF_VERSION);
    assert_int_equal(json_object_object_length(o), 14);
    json_object_put(o);
}

static void test_notify_format_starts_with_the_event_and_appends_to_the_buffer(void **state)
{
    (void)state;
    struct notify_event ev = sample_event();
    struct sbuf b = SBUF_INIT;

    sbuf_puts(&b, "x");
    notify_format(&ev, &b);
    static const char want[] = "x{\"event\":\"transition\",\"member\":\"web1\",";
    assert_memory_equal(sbuf_str(&b), want, strlen(want));
    assert_int_equal(sbuf_str(&b)[b.len - 1], '}');
    sbuf_free(&b);
}

static void test_notify_format_names_unknown_and_up_and_https_and_tcp(void **state)
{
    (void)state;
    struct notify_event ev = sample_event();
    ev.from = HEALTH_UNKNOWN;
    ev.to = HEALTH_UP;
    ev.check = CHECK_HTTPS;
    json_object *o = format_and_parse(&ev);
    assert_string_equal(get_str(o, "from"), "unknown");
    assert_string_equal(get_str(o, "to"), "up");
    assert_string_equal(get_str(o, "check"), "https");
    json_object_put(o);

    ev.check = CHECK_TCP;
    o = format_and_parse(&ev);
    assert_string_equal(get_str(o, "check"), "tcp");
    json_object_put(o);
}

static void test_notify_format_escapes_quotes_backslashes_and_control_characters(void **state)
{
    (void)state;
    struct notify_event ev = sample_event();
    strcpy(ev.members, "we\"b\\1");
    strcpy(ev.reason, "line1\nline2\t\x01");
    json_object *o = format_and_parse(&ev);
    assert_string_equal(get_str(o, "member"), "we\"b\\1");
    assert_string_equal(get_str(o, "reason"), "line1\nline2\t\x01");
    json_object_put(o);
}

static void test_notify_format_leaves_out_an_empty_host(void **state)
{
    (void)state;
    struct notify_event ev = sample_event();
    ev.host[0] = '\0';
    json_object *o = format_and_parse(&ev);
    assert_false(json_object_object_get_ex(o, "host", NULL));
    json_object_put(o);
}

static void test_notify_format_writes_utc_times_with_milliseconds(void **state)
{
    (void)state;
    struct notify_event ev = sample_event();
    ev.when_ms = 0;
    json_object *o = format_and_parse(&ev);
    assert_string_equal(get_str(o, "time"), "1970-01-01T00:00:00.000Z");
    json_object_put(o);

    ev.when_ms = -1;
    o = format_and_parse(&ev);
    assert_string_equal(get_str(o, "time"), "1969-12-31T23:59:59.999Z");
    json_object_put(o);

    ev.when_ms = 951782400007; /* a leap day */
    o = format_and_parse(&ev);
    assert_string_equal(get_str(o, "time"), "2000-02-29T00:00:00.007Z");
    json_object_put(o);
}

static void test_notify_format_stops_at_the_field_size_without_a_terminator(void **state)
{
    (void)state;
    struct notify_event ev = sample_event();
    memset(ev.reason, 'r', sizeof(ev.reason)); /* no NUL: must not read past the field */
    json_object *o = format_and_parse(&ev);
    assert_int_equal(strlen(get_str(o, "reason")), sizeof(ev.reason));
    json_object_put(o);
}

static const struct check_def http_check = {.type = CHECK_HTTP, .rise = 2, .fall = 3};

static struct target sample_target(void)
{
    struct target t;
    memset(&t, 0, sizeof(t));
    t.check = &http_check;
    strcpy(t.address, "2001:db8::1");
    t.port = 8080;
    t.label = "web1v6 2001:db8::1:8080";
    return t;
}

static void test_notify_event_from_health_copies_every_field(void **state)
{
    (void)state;
    struct target t = sample_target();
    struct health_event hev = {.target = &t,
                               .index = 4,
                               .from = HEALTH_DOWN,
                               .to = HEALTH_UP,
                               .reason = "ok",
                               .count = 2,
                               .when_ms = 42};
    struct notify_event ev;
    char reason[8];

    strcpy(reason, "ok");
    hev.reason = reason;
    notify_event_from_health(&ev, &hev, "web,api", "web1v6,api-a");
    strcpy(reason, "XX"); /* the event holds copies */
    assert_string_equal(ev.pools, "web,api");
    assert_string_equal(ev.members, "web1v6,api-a");
    assert_string_equal(ev.target, "web1v6 2001:db8::1:8080");
    assert_string_equal(ev.address, "2001:db8::1");
    assert_int_equal(ev.port, 8080);
    assert_int_equal(ev.check, CHECK_HTTP);
    assert_int_equal(ev.from, HEALTH_DOWN);
    assert_int_equal(ev.to, HEALTH_UP);
    assert_string_equal(ev.reason, "ok");
    assert_int_equal(ev.count, 2);
    assert_int_equal(ev.when_ms, 42);
    assert_string_equal(ev.host, "");
}

static void test_notify_event_from_health_names_the_target_label_without_members(void **state)
{
    (void)state;
    struct target t = sample_target();
    struct health_event hev = {.target = &t, .reason = "connect refused"};
    struct notify_event ev;

    notify_event_from_health(&ev, &hev, NULL, NULL);
    assert_string_equal(ev.pools, "");
    assert_string_equal(ev.members, "web1v6 2001:db8::1:8080");
    notify_event_from_health(&ev, &hev, "", "");
    assert_string_equal(ev.members, "web1v6 2001:db8::1:8080");
}

static void test_notify_event_from_health_cuts_long_names_between_characters(void **state)
{
    (void)state;
    struct target t = sample_target();
    struct health_event hev = {.target = &t, .reason = "ok"};
    struct notify_event ev;
    char names[1024] = {0};

    /* Two-byte characters: the field holds 255 bytes, and the cut must not split one. */
    for (size_t i = 0; i + 2 < sizeof(names); i += 2)
        memcpy(names + i, "\xc3\xa9", 2);
    notify_event_from_health(&ev, &hev, names, names);
    assert_int_equal(strlen(ev.members), sizeof(ev.members) - 2);
    assert_int_equal((unsigned char)ev.members[strlen(ev.members) - 1], 0xa9);
    assert_int_equal(strlen(ev.pools), sizeof(ev.pools) - 2);
}

static void test_notify_event_from_health_replaces_bytes_that_are_not_utf8(void **state)
{
    (void)state;
    struct target t = sample_target();
    struct health_event hev = {.target = &t, .reason = "bad \xff\xc3 byte \xe2\x82\xac"};
    struct notify_event ev;

    notify_event_from_health(&ev, &hev, NULL, "m\xc0\xafx");
    assert_string_equal(ev.reason, "bad ?? byte \xe2\x82\xac");
    assert_string_equal(ev.members, "m??x");
}

static void test_notify_backoff_doubles_from_one_second_up_to_sixteen(void **state)
{
    (void)state;
    static const uint32_t want[] = {1000, 1000, 2000, 4000, 8000, 16000, 16000, 16000};
    for (unsigned a = 0; a < 8; a++)
        assert_int_equal(notify_backoff_ms(a, 0), want[a]);
    assert_int_equal(notify_backoff_ms(40, 0), 16000);
    assert_int_equal(notify_backoff_ms(UINT32_MAX, 0), 16000);
}

static void test_notify_backoff_jitter_adds_at_most_a_quarter(void **state)
{
    (void)state;
    for (unsigned a = 1; a <= 6; a++) {
        uint32_t base = notify_backoff_ms(a, 0);
        uint32_t lo = UINT32_MAX, hi = 0;
        for (uint32_t r = 0; r < 100000; r += 7) {
            uint32_t d = notify_backoff_ms(a, r * 2654435761u);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        assert_int_equal(lo, base);
        assert_int_equal(hi, base + base / 4);
        assert_int_equal(notify_backoff_ms(a, UINT32_MAX) <= base + base / 4, 1);
    }
}

static struct notify_event numbered(unsigned i)
{
    struct notify_event ev = sample_event();
    ev.count = i;
    return ev;
}

static void test_notify_queue_gives_events_back_in_order(void **state)
{
    (void)state;
    struct notify_queue q;
    struct notify_event out;

    notify_queue_init(&q, 4);
    assert_false(notify_queue_pop(&q, &out));
    for (unsigned i = 1; i <= 3; i++)
        assert_false(notify_queue_push(&q, &(struct notify_event){.count = i}));
    for (unsigned i = 1; i <= 3; i++) {
        assert_true(notify_queue_pop(&q, &out));
        assert_int_equal(out.count, i);
    }
    assert_false(notify_queue_pop(&q, &out));
    assert_int_equal(q.dropped, 0);
    notify_queue_deinit(&q);
}

static void test_notify_queue_drops_the_oldest_when_full(void **state)
{
    (void)state;
    struct notify_queue q;
    struct notify_event out, ev;

    notify_queue_init(&q, 3);
    for (unsigned i = 1; i <= 3; i++) {
        ev = numbered(i);
        assert_false(notify_queue_push(&q, &ev));
    }
    for (unsigned i = 4; i <= 7; i++) {
        ev = numbered(i);
        assert_true(notify_queue_push(&q, &ev));
    }
    assert_int_equal(q.dropped, 4);
    assert_int_equal(q.len, 3);
    for (unsigned i = 5; i <= 7; i++) {
        assert_true(notify_queue_pop(&q, &out));
        assert_int_equal(out.count, i);
        assert_string_equal(out.target, "web1 192.0.2.1:80");
    }
    assert_false(notify_queue_pop(&q, &out));
    notify_queue_deinit(&q);
}

static void test_notify_queue_keeps_order_across_the_end_of_the_ring(void **state)
{
    (void)state;
    struct notify_queue q;
    struct notify_event out;
    unsigned next_in = 1, next_out = 1;

    notify_queue_init(&q, 5);
    for (unsigned round = 0; round < 20; round++) {
        for (unsigned k = 0; k < 3; k++)
            assert_false(notify_queue_push(&q, &(struct notify_event){.count = next_in++}));
        for (unsigned k = 0; k < 3; k++) {
            assert_true(notify_queue_pop(&q, &out));
            assert_int_equal(out.count, next_out++);
        }
    }
    assert_int_equal(q.len, 0);
    notify_queue_deinit(&q);
}

static void test_notify_queue_of_one_keeps_the_newest(void **state)
{
    (void)state;
    struct notify_queue q;
    struct notify_event out;

    notify_queue_init(&q, 0); /* treated as 1 */
    assert_false(notify_queue_push(&q, &(struct notify_event){.count = 1}));
    assert_true(notify_queue_push(&q, &(struct notify_event){.count = 2}));
    assert_true(notify_queue_pop(&q, &out));
    assert_int_equal(out.count, 2);
    assert_int_equal(q.dropped, 1);
    notify_queue_deinit(&q);
    notify_queue_deinit(NULL);
}

static void test_notify_start_rejects_urls_that_are_not_http_or_https(void **state)
{
    (void)state;
    static const struct {
        const char *url, *msg;
    } bad[] = {
        {"", "notify url is empty"},
        {"ftp://example.com/hook", "notify url 'ftp://example.com/hook' must start with http://"},
        {"file:///etc/passwd", "must start with http:// or https://"},
        {"example.com/hook", "must start with http:// or https://"},
        {"http://", "notify url 'http://' "},
        {"http://exa mple.com/", "contains a space or control character"},
        {"https://host/\n", "contains a space or control character"},
        {"http://[::1/x", "is not a valid URL"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct errbuf err = {{0}};
        notify_t *n = (notify_t *)&err; /* must stay untouched */
        assert_int_equal(notify_start(bad[i].url, NULL, &n, &err), -EINVAL);
        assert_ptr_equal(n, (notify_t *)&err);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("url '%s': message '%s' lacks '%s'", bad[i].url, err.msg, bad[i].msg);
    }
    struct errbuf err = {{0}};
    notify_t *n = NULL;
    assert_int_equal(notify_start(NULL, NULL, &n, &err), -EINVAL);
    assert_null(n);
}

static void test_notify_starts_and_stops_at_once_when_idle(void **state)
{
    (void)state;
    static const char *const good[] = {"http://127.0.0.1:9/hook", "HTTPS://[::1]:9/x?y=1",
                                       "http://user:pw@localhost/"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct errbuf err = {{0}};
        notify_t *n = NULL;
        struct notify_opts o = {.queue_max = 2, .host = "h"};
        if (notify_start(good[i], &o, &n, &err) != 0)
            fail_msg("url '%s': %s", good[i], err.msg);
        assert_non_null(n);
        assert_int_equal(notify_sent(n), 0);
        assert_int_equal(notify_failed(n), 0);
        assert_int_equal(notify_dropped(n), 0);
        notify_stop(n);
    }
}

static void test_notify_functions_accept_null(void **state)
{
    (void)state;
    struct notify_event ev = sample_event();
    notify_event(NULL, &ev);
    notify_stop(NULL);
    assert_int_equal(notify_sent(NULL), 0);
    assert_int_equal(notify_failed(NULL), 0);
    assert_int_equal(notify_dropped(NULL), 0);
}

static int global_setup(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int global_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notify_format_builds_the_documented_body),
        cmocka_unit_test(test_notify_format_starts_with_the_event_and_appends_to_the_buffer),
        cmocka_unit_test(test_notify_format_names_unknown_and_up_and_https_and_tcp),
        cmocka_unit_test(test_notify_format_escapes_quotes_backslashes_and_control_characters),
        cmocka_unit_test(test_notify_format_leaves_out_an_empty_host),
        cmocka_unit_test(test_notify_format_writes_utc_times_with_milliseconds),
        cmocka_unit_test(test_notify_format_stops_at_the_field_size_without_a_terminator),
        cmocka_unit_test(test_notify_event_from_health_copies_every_field),
        cmocka_unit_test(test_notify_event_from_health_names_the_target_label_without_members),
        cmocka_unit_test(test_notify_event_from_health_cuts_long_names_between_characters),
        cmocka_unit_test(test_notify_event_from_health_replaces_bytes_that_are_not_utf8),
        cmocka_unit_test(test_notify_backoff_doubles_from_one_second_up_to_sixteen),
        cmocka_unit_test(test_notify_backoff_jitter_adds_at_most_a_quarter),
        cmocka_unit_test(test_notify_queue_gives_events_back_in_order),
        cmocka_unit_test(test_notify_queue_drops_the_oldest_when_full),
        cmocka_unit_test(test_notify_queue_keeps_order_across_the_end_of_the_ring),
        cmocka_unit_test(test_notify_queue_of_one_keeps_the_newest),
        cmocka_unit_test(test_notify_start_rejects_urls_that_are_not_http_or_https),
        cmocka_unit_test(test_notify_starts_and_stops_at_once_when_idle),
        cmocka_unit_test(test_notify_functions_accept_null),
    };
    return cmocka_run_group_tests_name("notify", tests, global_setup, global_teardown);
}
