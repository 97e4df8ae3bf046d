/* SPDX-License-Identifier: MIT */
/* Operational counters and their rendering in the Prometheus text exposition format (0.0.4).
 * Pure: no clock, no I/O, no allocation but the output buffer. The HTTP listener that serves
 * the text is metrics_http.h.
 *
 * Threads: struct metrics holds only lock-free 64-bit atomics updated with relaxed ordering, so
 * every function may be called from any thread at any time without locks (answering thread,
 * probe thread, HTTP thread). It has no pointers, so it can also live in shared memory and be
 * counted into by several processes. A rendering reads each counter once; counters updated
 * meanwhile may or may not be included (each sample is exact, the set is not a snapshot). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sbuf.h"
#include "health/state.h"

/* pdns remote-backend methods as counted ("getDomainMetadata" and "getAllDomainMetadata" are
 * both "metadata"; anything unknown is "other"). */
enum metrics_method {
    METRICS_METHOD_LOOKUP = 0,
    METRICS_METHOD_LIST,
    METRICS_METHOD_GET_ALL_DOMAINS,
    METRICS_METHOD_GET_DOMAIN_INFO,
    METRICS_METHOD_METADATA,
    METRICS_METHOD_DIRECT_BACKEND_CMD,
    METRICS_METHOD_INITIALIZE,
    METRICS_METHOD_OTHER,
    _METRICS_METHOD_MAX,
};

/* How a request ended: an answer with records, a successful answer without any (NXDOMAIN,
 * NODATA, an empty pool, no metadata), or {"result": false}. */
enum metrics_result {
    METRICS_RESULT_OK = 0,
    METRICS_RESULT_EMPTY,
    METRICS_RESULT_ERROR,
    _METRICS_RESULT_MAX,
};

/* Bucket upper bounds (inclusive, microseconds) of the two histograms; one more bucket (+Inf)
 * counts what lies above the last bound. */
#define METRICS_LOOKUP_BUCKETS 9  /* 5 10 25 50 100 250 500 1000 5000 us */
#define METRICS_PROBE_BUCKETS  11 /* 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 s */

/* Per-bucket (not cumulative) counts; the last is +Inf. The count is their sum, so a rendered
 * histogram's +Inf bucket always equals its _count. */
struct metrics_hist_lookup {
    _Atomic uint64_t bucket[METRICS_LOOKUP_BUCKETS + 1];
    _Atomic uint64_t sum_us;
};

struct metrics_hist_probe {
    _Atomic uint64_t bucket[METRICS_PROBE_BUCKETS + 1];
    _Atomic uint64_t sum_us;
};

struct metrics {
    _Atomic uint64_t requests[_METRICS_METHOD_MAX][_METRICS_RESULT_MAX];
    struct metrics_hist_lookup lookup_latency; /* method "lookup" only */
    _Atomic uint64_t probes[_PROBE_RES_MAX];
    struct metrics_hist_probe probe_latency; /* every result but PROBE_LOCAL */
    _Atomic uint64_t transitions_up, transitions_down;
    _Atomic uint64_t reloads_ok, reloads_failed;
    _Atomic uint64_t generation;    /* gauge */
    _Atomic uint64_t stale;         /* gauge, 0 or 1 */
    _Atomic uint64_t stale_periods; /* counts 0 -> 1 changes of stale */
};

/* Zeroes every counter. Call once before the struct is shared. */
void metrics_init(struct metrics *m);

/* The method of a pdns method name ("lookup", "getAllDomainMetadata", ...). Never fails:
 * unknown names (and NULL) are METRICS_METHOD_OTHER. */
enum metrics_method metrics_method_of(const char *name);
/* The label value of a method ("getAllDomains", "metadata", ...). */
const char *metrics_method_name(enum metrics_method method);
/* The label value of a result ("ok", "empty", "error"). */
const char *metrics_result_name(enum metrics_result result);

/* Counts one answered request. latency_us (receipt to reply written) goes into the latency
 * histogram for METRICS_METHOD_LOOKUP only: list and AXFR-sized answers would drown it.
 * Out-of-range enum values are counted as OTHER / ERROR. */
void metrics_lookup(struct metrics *m,
                    enum metrics_method method,
                    enum metrics_result result,
                    uint32_t latency_us);
/* Counts one probe by result and, except for PROBE_LOCAL (our own failure, which says nothing
 * of the endpoint's speed), its duration. Out-of-range results are ignored. */
void metrics_probe(struct metrics *m, enum probe_result result, uint32_t latency_us);
/* Counts one verdict change of a target (to up, or to down). */
void metrics_transition(struct metrics *m, bool to_up);
/* Counts one store reload and sets the generation now served: the new one after a successful
 * reload, the old one (unchanged) after a failed one. */
void metrics_reload(struct metrics *m, bool ok, uint64_t generation);
/* Sets the generation served without counting a reload (the initial load). */
void metrics_set_generation(struct metrics *m, uint64_t generation);
/* Sets whether the prober is stale (no probe results for too long); a change from fresh to
 * stale counts one stale period. */
void metrics_set_stale(struct metrics *m, bool stale);

/* One pool member, as the caller describes it to metrics_render(). */
struct metrics_member {
    const char *pool, *member, *address; /* label values; NULL renders as "" */
    int up;                              /* 1 up, 0 down, -1 no verdict yet */
    int override;                        /* enum override_kind: 0 none, 1 drain, 2 down, 3 up */
    uint64_t probes, failures;           /* counters of the member's probe target */
};

/* Fills *ret with member i and returns true, or returns false when i is past the end.
 * metrics_render() walks 0, 1, 2, ... once for each per-member metric family, so the iterator
 * must give the same members in the same order during one rendering. The strings are borrowed
 * until the next call. */
typedef bool (*metrics_member_iter)(void *opaque, size_t i, struct metrics_member *ret);

/* Appends the whole exposition to out: HELP and TYPE lines for every family, names prefixed
 * "pdns_failover_", base units (seconds), counters ending in "_total", every label combination
 * present from the start (zero until counted), cumulative histogram buckets with le labels,
 * _sum and _count. Per member (it may be NULL: no members):
 *   pdns_failover_member_up{pool,member,address}             1 or 0; no sample while the
 *       member has no verdict yet (answered as up, but not known to be), so that
 *       sum(pdns_failover_member_up) counts members known up and an alert on == 0 does not
 *       fire at startup; the member's probe counters below are always there
 *   pdns_failover_member_override{pool,member,address,kind}  1 for the override in force
 *       (kind "drain", "down", "up"), 0 for the other two kinds
 *   pdns_failover_member_probes_total, pdns_failover_member_probe_failures_total
 * Label values are escaped (\\, \", \n). Any thread (see the top of this file). */
void metrics_render(const struct metrics *m,
                    metrics_member_iter it,
                    void *opaque,
                    struct sbuf *out);

/* Appends s as a Prometheus label value (without the quotes): backslash, double quote and
 * newline escaped. NULL appends nothing. */
void metrics_put_label_value(struct sbuf *out, const char *s);
