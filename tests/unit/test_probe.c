/* SPDX-License-Identifier: MIT */
/* Unit tests for health/probe.c: classification of a finished transfer (curl's result, HTTP
 * status, connection made, body string found) into a probe result and a short reason. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "health/probe.h"

#define REASON_CAP 88 /* the health map's reason field */

static const struct check_def http_check = {.type = CHECK_HTTP,
                                            .path = "/",
                                            .interval_ms = 3000,
                                            .timeout_ms = 2000,
                                            .rise = 2,
                                            .fall = 3,
                                            .tls_verify = true};

static enum probe_result classify(const struct check_def *c,
                                  CURLcode rc,
                                  long status,
                                  bool connected,
                                  bool body_found,
                                  char *reason)
{
    memset(reason, 'x', REASON_CAP);
    return probe_classify(c, rc, status, connected, body_found, reason, REASON_CAP);
}

static void test_probe_status_200_is_ok_by_default(void **state)
{
    (void)state;
    char reason[REASON_CAP];
    assert_int_equal(classify(&http_check, CURLE_OK, 200, true, false, reason), PROBE_OK);
    assert_string_equal(reason, "ok");
}

static void test_probe_status_outside_the_default_is_a_status_failure(void **state)
{
    (void)state;
    char reason[REASON_CAP];
    assert_int_equal(classify(&http_check, CURLE_OK, 503, true, false, reason), PROBE_L7STS);
    assert_string_equal(reason, "http status 503");
    assert_int_equal(classify(&http_check, CURLE_OK, 204, true, false, reason), PROBE_L7STS);
    assert_string_equal(reason, "http status 204");
}

static void test_probe_redirect_is_a_status_failure_not_followed(void **state)
{
    (void)state;
    char reason[REASON_CAP];
    assert_int_equal(classify(&http_check, CURLE_OK, 302, true, false, reason), PROBE_L7STS);
    assert_string_equal(reason, "http status 302");
}

static void test_probe_accepts_any_status_in_the_expected_ranges(void **state)
{
    (void)state;
    static const struct expect_range ranges[] = {{200, 299}, {404, 404}};
    struct check_def c = http_check;
    char reason[REASON_CAP];
    c.expect = ranges;
    c.nexpect = 2;
    assert_int_equal(classify(&c, CURLE_OK, 204, true, false, reason), PROBE_OK);
    assert_int_equal(classify(&c, CURLE_OK, 404, true, false, reason), PROBE_OK);
    assert_int_equal(classify(&c, CURLE_OK, 403, true, false, reason), PROBE_L7STS);
    assert_string_equal(reason, "http status 403");
}

static void test_probe_answer_without_status_is_a_bad_response(void **state)
{
    (void)state;
    char reason[REASON_CAP];
    assert_int_equal(classify(&http_check, CURLE_OK, 0, true, false, reason), PROBE_L7RSP);
    assert_string_equal(reason, "no http status");
}

static void test_probe_body_string_found_is_ok(void **state)
{
    (void)state;
    struct check_def c = http_check;
    char reason[REASON_CAP];
    c.body = "ok";
    assert_int_equal(classify(&c, CURLE_OK, 200, true, true, reason), PROBE_OK);
    assert_string_equal(reason, "ok");
}

static void test_probe_body_string_missing_is_a_bad_response(void **state)
{
    (void)state;
    struct check_def c = http_check;
    char reason[REASON_CAP];
    c.body = "ok";
    assert_int_equal(classify(&c, CURLE_OK, 200, true, false, reason), PROBE_L7RSP);
    assert_string_equal(reason, "body 'ok' not found");
}

static void test_probe_wrong_status_wins_over_missing_body(void **state)
{
    (void)state;
    struct check_def c = http_check;
    char reason[REASON_CAP];
    c.body = "ok";
    assert_int_equal(classify(&c, CURLE_OK, 500, true, false, reason), PROBE_L7STS);
    assert_string_equal(reason, "http status 500");
}

static void test_probe_long_body_string_is_shortened_in_the_reason(void **state)
{
    (void)state;
    struct check_def c = http_check;
    char reason[REASON_CAP];
    char body[201];
    memset(body, 'a', 200);
    body[200] = '\0';
    c.body = body;
    assert_int_equal(classify(&c, CURLE_OK, 200, true, false, reason), PROBE_L7RSP);
    assert_true(strlen(reason) < REASON_CAP);
    assert_non_null(strstr(reason, "...' not found"));
    assert_memory_equal(reason, "body 'aaaa", 10);
}

static void test_probe_refused_connection_is_a_layer4_failure(void **state)
{
    (void)state;
    char reason[REASON_CAP];
    assert_int_equal(classify(&http_check, CURLE_COULDNT_CONNECT, 0, false, false, reason),
                     PROBE_L4CON);
    assert_string_equal(reason, "connect refused");
}

static void test_probe_timeout_before_connecting_is_a_layer4_timeout(void **state)
{
    (void)state;
    char reason[REASON_CAP];
    assert_int_equal(classify(&http_check, CURLE_OPERATION_TIMEDOUT, 0, false, false, reason),
                     PROBE_L4TOUT);
    assert_string_equal(reason, "connect timeout after 2.0 s");
}

static void test_probe_timeout_after_connecting_is_a_layer7_timeout(void **state)
{
    (void)state;
    struct check_def c = http_check;
    char reason[REASON_CAP];
    c.timeout_ms = 1500;
    assert_int_equal(classify(&c, CURLE_OPERATION_TIMEDOUT, 0, true, false, reason), PROBE_L7TOUT);
    assert_string_equal(reason, "timeout after 1.5 s");
}

static void test_probe_tls_errors_are_layer6_failures(void **state)
{
    (void)state;
    static const CURLcode codes[] = {CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION,
                                     CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM};
    struct check_def c = http_check;
    char reason[REASON_CAP];
    c.type = CHECK_HTTPS;
    for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
        assert_int_equal(classify(&c, codes[k], 0, true, false, reason), PROBE_L6);
        assert_memory_equal(reason, "tls: ", 5);
    }
}

static void test_probe_tls_reasons_keep_what_matters_within_the_health_maps_88_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *curl, *reason;
    } cases[] = {
        {"SSL: no alternative certificate subject name matches target host name "
         "'www.example.com'",
         "tls: certificate is not for 'www.example.com'"},
        {"SSL certificate problem: certificate has expired", "tls: certificate has expired"},
        {"SSL certificate problem: self-signed certificate", "tls: self-signed certificate"},
        {"SSL certificate problem: unable to get local issuer certificate",
         "tls: unable to get local issuer certificate"},
        {"SSL: certificate subject name 'a' does not match target host name 'b'",
         "tls: certificate subject name 'a' does not match target host name 'b'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char reason[88];
        probe_tls_reason(cases[i].curl, reason, sizeof(reason));
        assert_string_equal(reason, cases[i].reason);
    }
}

static void test_probe_out_of_memory_and_failed_init_are_local_problems(void **state)
{
    (void)state;
    char reason[REASON_CAP];
    assert_int_equal(classify(&http_check, CURLE_OUT_OF_MEMORY, 0, false, false, reason),
                     PROBE_LOCAL);
    assert_int_equal(classify(&http_check, CURLE_FAILED_INIT, 0, false, false, reason),
                     PROBE_LOCAL);
}

static void test_probe_other_curl_errors_are_bad_responses_with_curls_message(void **state)
{
    (void)state;
    char reason[REASON_CAP];
    assert_int_equal(classify(&http_check, CURLE_GOT_NOTHING, 0, true, false, reason), PROBE_L7RSP);
    /* curl's own text, with its leading capital lowered */
    assert_string_equal(reason, "server returned nothing (no headers, no data)");
    assert_int_equal(classify(&http_check, CURLE_RECV_ERROR, 0, true, false, reason), PROBE_L7RSP);
}

static void test_probe_tcp_check_is_ok_once_connected_without_a_status(void **state)
{
    (void)state;
    struct check_def c = http_check;
    char reason[REASON_CAP];
    c.type = CHECK_TCP;
    assert_int_equal(classify(&c, CURLE_OK, 0, true, false, reason), PROBE_OK);
    assert_string_equal(reason, "ok");
    assert_int_equal(classify(&c, CURLE_COULDNT_CONNECT, 0, false, false, reason), PROBE_L4CON);
    assert_int_equal(classify(&c, CURLE_OPERATION_TIMEDOUT, 0, false, false, reason), PROBE_L4TOUT);
}

static void test_probe_every_reason_is_one_short_lowercase_line(void **state)
{
    (void)state;
    struct check_def c = http_check;
    char reason[REASON_CAP];
    c.type = CHECK_HTTPS;
    c.body = "needle";
    for (int rc = 0; rc < CURL_LAST; rc++) {
        for (int connected = 0; connected < 2; connected++) {
            classify(&c, (CURLcode)rc, connected ? 200 : 0, connected, false, reason);
            size_t len = strnlen(reason, REASON_CAP);
            assert_true(len > 0 && len < REASON_CAP);
            assert_false(reason[0] >= 'A' && reason[0] <= 'Z' && reason[1] >= 'a' &&
                         reason[1] <= 'z');
            for (size_t k = 0; k < len; k++)
                assert_true((unsigned char)reason[k] >= 0x20);
        }
    }
}

static void test_probe_reason_is_cut_to_a_small_buffer(void **state)
{
    (void)state;
    char small[8];
    memset(small, 'x', sizeof(small));
    probe_classify(&http_check, CURLE_OK, 503, true, false, small, sizeof(small));
    assert_string_equal(small, "http st");
    probe_classify(&http_check, CURLE_GOT_NOTHING, 0, true, false, small, sizeof(small));
    assert_string_equal(small, "server"); /* no trailing blank left by the cut */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_status_200_is_ok_by_default),
        cmocka_unit_test(test_probe_status_outside_the_default_is_a_status_failure),
        cmocka_unit_test(test_probe_redirect_is_a_status_failure_not_followed),
        cmocka_unit_test(test_probe_accepts_any_status_in_the_expected_ranges),
        cmocka_unit_test(test_probe_answer_without_status_is_a_bad_response),
        cmocka_unit_test(test_probe_body_string_found_is_ok),
        cmocka_unit_test(test_probe_body_string_missing_is_a_bad_response),
        cmocka_unit_test(test_probe_wrong_status_wins_over_missing_body),
        cmocka_unit_test(test_probe_long_body_string_is_shortened_in_the_reason),
        cmocka_unit_test(test_probe_refused_connection_is_a_layer4_failure),
        cmocka_unit_test(test_probe_timeout_before_connecting_is_a_layer4_timeout),
        cmocka_unit_test(test_probe_timeout_after_connecting_is_a_layer7_timeout),
        cmocka_unit_test(test_probe_tls_errors_are_layer6_failures),
        cmocka_unit_test(test_probe_tls_reasons_keep_what_matters_within_the_health_maps_88_bytes),
        cmocka_unit_test(test_probe_out_of_memory_and_failed_init_are_local_problems),
        cmocka_unit_test(test_probe_other_curl_errors_are_bad_responses_with_curls_message),
        cmocka_unit_test(test_probe_tcp_check_is_ok_once_connected_without_a_status),
        cmocka_unit_test(test_probe_every_reason_is_one_short_lowercase_line),
        cmocka_unit_test(test_probe_reason_is_cut_to_a_small_buffer),
    };
    return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
