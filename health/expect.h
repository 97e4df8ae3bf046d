/* SPDX-License-Identifier: MIT */
/* Parsing and matching of expected HTTP status codes: "200", "2xx", "200-399". Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/errbuf.h"
#include "health/check.h"

/* Parses one expectation (100-599; "Nxx" for a class; "A-B" with A <= B). Returns 0, or -EINVAL
 * with a reason quoting the text, e.g. "'2x9' is not a status code, a class like '2xx' or a
 * range like '200-399'". */
int expect_parse(const char *text, struct expect_range *ret, struct errbuf *err);
/* True when status lies in any range; with n == 0 only 200 matches. */
bool expect_match(const struct expect_range *r, size_t n, long status);
