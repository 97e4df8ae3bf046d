/* SPDX-License-Identifier: MIT */
/* Remote-backend method dispatch (see dispatch.h and docs/protocol.md). Replies are written by
 * hand from fragments rendered at store load time: the hot path (lookup) parses the request and
 * copies bytes, nothing else. */
#include "backend/dispatch.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>

#include "backend/commands.h"
#include "backend/edit.h"
#include "backend/metrics.h"
#include "backend/policy.h"
#include "backend/pools.h"
#include "backend/rdata.h"
#include "common/dname.h"
#include "common/xalloc.h"

#define REQUEST_MAX_DEPTH 16

struct dispatch {
    json_tokener *tok;
    const store_t *store;
    const hmap_t *health;
    overrides_t *overrides;
    uint64_t rng;
    int64_t stale_after_ms;  /* 3 x the shortest check interval; 0: no guard */
    int64_t health_since_ms; /* boot clock: when health was set (the guard's grace) */
    bool stale;
    dispatch_stale_fn on_stale;
    void *stale_opaque;
    struct metrics *metrics;
    int (*cmd_reload)(void *opaque, struct sbuf *out);
    void (*cmd_stats)(void *opaque, struct sbuf *out);
    void *cmd_opaque;
    dispatch_load_fn load;
    void *opaque;
    struct dispatch_writer writer;
    bool async;
    bool verbose;
    bool fast; /* the lookup fast path (on unless a test compares) */
    void (*freshen)(void *opaque);
    void *freshen_opaque;
};

/* An open transaction: the edits so far, in order, and this session's view of the store with
 * them applied (read-your-writes: pdnsutil and DNS UPDATE look records up between edits). */
struct txn {
    char *zone; /* canonical text */
    uint32_t zone_id;
    bool whole; /* startTransaction with the zone's id: the zone's records are replaced */
    struct edit_op *ops;
    size_t nops, cap;
    json_object *doc; /* the store file when first needed, plus ops[0..applied) */
    size_t applied;
    store_t *view; /* built from doc; NULL: not built since the last edit */
    bool view_failed;
    char *refused; /* why an edit of it was refused: then it cannot commit */
};

static void txn_free(struct txn *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nops; i++)
        edit_op_clear(&t->ops[i]);
    free(t->ops);
    json_object_put(t->doc);
    store_free(t->view);
    free(t->refused);
    free(t->zone);
    free(t);
}

void dispatch_set_writer(dispatch_t *d, const struct dispatch_writer *w)
{
    if (w)
        d->writer = *w;
    else
        memset(&d->writer, 0, sizeof(d->writer));
}

void dispatch_set_freshen(dispatch_t *d, void (*fn)(void *opaque), void *opaque)
{
    d->freshen = fn;
    d->freshen_opaque = opaque;
}

static void freshen(dispatch_t *d)
{
    if (d->freshen)
        d->freshen(d->freshen_opaque);
}

static void job_free(struct dispatch_job *j);

void dispatch_session_end(dispatch_t *d, struct session *ss)
{
    (void)d;
    txn_free(ss->txn);
    ss->txn = NULL;
    job_free(ss->job);
    ss->job = NULL;
}

dispatch_t *dispatch_new(dispatch_load_fn load, void *opaque)
{
    dispatch_t *d = xcalloc(1, sizeof(*d));
    d->tok = json_tokener_new_ex(REQUEST_MAX_DEPTH);
    if (!d->tok)
        xalloc_die("json_tokener_new_ex");
    json_tokener_set_flags(d->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    d->load = load;
    d->opaque = opaque;
    d->fast = true;
    return d;
}

void dispatch_free(dispatch_t *d)
{
    if (!d)
        return;
    json_tokener_free(d->tok);
    free(d);
}

void dispatch_set_store(dispatch_t *d, const store_t *s)
{
    d->store = s;
}

/* The wall clock, for overrides ("drain for 5m" is kept as a wall time, shared by every
 * process and surviving restarts). */
static int64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The boot clock, for the staleness guard (see hmap_silent_ms): setting the wall clock must
 * neither declare a live prober dead nor keep a dead one alive. */
static int64_t boot_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dispatch_set_health(dispatch_t *d, const hmap_t *health, uint64_t seed)
{
    d->health = health;
    d->rng = seed;
    d->stale = false;
    d->health_since_ms = boot_now_ms();
    d->stale_after_ms = 0;
    const struct store_pools *sp = d->store ? store_pools(d->store) : NULL;
    for (size_t i = 0; sp && i < sp->ntargets; i++) {
        int64_t v = 3 * (int64_t)sp->targets[i].check->interval_ms;
        if (!d->stale_after_ms || v < d->stale_after_ms)
            d->stale_after_ms = v;
    }
}

void dispatch_set_overrides(dispatch_t *d, overrides_t *o)
{
    d->overrides = o;
}

void dispatch_set_cmd_hooks(dispatch_t *d,
                            int (*reload)(void *opaque, struct sbuf *out),
                            void (*stats)(void *opaque, struct sbuf *out),
                            void *opaque)
{
    d->cmd_reload = reload;
    d->cmd_stats = stats;
    d->cmd_opaque = opaque;
}

void dispatch_on_stale(dispatch_t *d, dispatch_stale_fn fn, void *opaque)
{
    d->on_stale = fn;
    d->stale_opaque = opaque;
}

/* The staleness guard: no probe completed for 3 intervals means the prober is stuck, and its
 * verdicts are old news; answers then fail open (every member counts as up). */
static bool health_stale(dispatch_t *d, struct hmap_beat now)
{
    if (!d->health || !d->stale_after_ms)
        return false;
    int64_t silent = hmap_silent_ms(hmap_last_heartbeat(d->health), now, d->health_since_ms);
    bool stale = silent > d->stale_after_ms;
    if (stale != d->stale) {
        d->stale = stale;
        if (d->on_stale)
            d->on_stale(d->stale_opaque, stale, silent);
    }
    return stale;
}

const store_t *dispatch_store(const dispatch_t *d)
{
    return d->store;
}

/* ---- reply helpers ------------------------------------------------------------------------ */

static void reply_false(struct sbuf *out)
{
    sbuf_puts(out, "{\"result\":false}\n");
}

/* Length of the valid UTF-8 sequence at p, or 0 when the byte there does not start one. */
static size_t utf8_seq_len(const unsigned char *p)
{
    size_t n;
    uint32_t min;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        min = 0x80;
    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        min = 0x800;
    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    uint32_t cp = p[0] & (0x7fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Appends a log message as a JSON string. Messages quote request or store bytes cut to a length
 * limit, which can split a UTF-8 sequence; such bytes become '?' so the reply stays valid JSON. */
static void put_log_str(struct sbuf *out, const char *msg)
{
    struct sbuf clean = SBUF_INIT;
    const unsigned char *p = (const unsigned char *)msg;
    while (*p) {
        size_t n = utf8_seq_len(p);
        if (n == 0) {
            sbuf_putc(&clean, '?');
            p++;
        } else {
            sbuf_put(&clean, p, n);
            p += n;
        }
    }
    sbuf_json_str(out, sbuf_str(&clean), clean.len);
    sbuf_free(&clean);
}

static void reply_false_log(struct sbuf *out, const char *msg)
{
    sbuf_puts(out, "{\"result\":false,\"log\":[");
    put_log_str(out, msg);
    sbuf_puts(out, "]}\n");
}

static void reply_true(struct sbuf *out)
{
    sbuf_puts(out, "{\"result\":true}\n");
}

static void reply_string(struct sbuf *out, const char *s, size_t n)
{
    sbuf_puts(out, "{\"result\":");
    sbuf_json_str(out, s, n);
    sbuf_puts(out, "}\n");
}

static void put_domain_info(struct sbuf *out, const struct store_zone *z)
{
    sbuf_puts(out, "{\"id\":");
    sbuf_u64(out, z->id);
    sbuf_puts(out, ",\"zone\":");
    sbuf_json_str(out, z->name, strlen(z->name));
    sbuf_puts(out, ",\"kind\":\"native\",\"serial\":");
    sbuf_u64(out, z->serial);
    sbuf_putc(out, '}');
}

/* ---- parameter access --------------------------------------------------------------------- */

struct call {
    const char *method;
    json_object *params;
    struct errbuf *err;
};

/* Returns the string parameter, or NULL with a message when it is missing or not a string. */
static const char *param_str(struct call *c, const char *key, size_t *len)
{
    json_object *v;
    if (!json_object_object_get_ex(c->params, key, &v) || !v) {
        errbuf_set(c->err, -EINVAL, "%s: missing parameter '%s'", c->method, key);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        errbuf_set(c->err, -EINVAL, "%s: parameter '%s' must be a string, got %.60s", c->method,
                   key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return NULL;
    }
    if (len)
        *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

/* Integer parameter (pdns sends numbers; numeric strings are tolerated). Returns 0 or -EINVAL;
 * a missing parameter gives `def`. */
static int param_int(struct call *c, const char *key, int64_t def, int64_t *ret)
{
    json_object *v;
    if (!json_object_object_get_ex(c->params, key, &v) || !v) {
        *ret = def;
        return 0;
    }
    if (json_object_is_type(v, json_type_int)) {
        *ret = json_object_get_int64(v);
        return 0;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (*s && !*end && errno == 0) {
            *ret = x;
            return 0;
        }
    }
    return errbuf_set(c->err, -EINVAL, "%s: parameter '%s' must be a whole number, got %.60s",
                      c->method, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

/* Parses a name parameter into lowercase wire form. */
static int param_name(struct call *c, const char *key, uint8_t *wire)
{
    size_t len;
    const char *s = param_str(c, key, &len);
    if (!s)
        return -EINVAL;
    struct errbuf e;
    if (dname_from_text(s, len, NULL, wire, &e) < 0)
        return errbuf_set(c->err, -EINVAL, "%s: parameter '%s': %s", c->method, key, e.msg);
    dname_lower(wire);
    return 0;
}

/* ---- transactions ------------------------------------------------------------------------- */

/* Brings the transaction's document up to date with its edits. */
static int txn_catch_up(dispatch_t *d, struct txn *t, struct errlist *errs)
{
    struct errbuf err;
    if (!t->doc) {
        int r = d->writer.read(d->writer.opaque, &t->doc, errs);
        if (r < 0)
            return r;
        t->applied = 0;
    }
    if (t->applied < t->nops) {
        int r = edit_apply(t->doc, t->ops + t->applied, t->nops - t->applied, &err);
        if (r < 0) {
            errlist_add(errs, "%s", err.msg);
            return r;
        }
        t->applied = t->nops;
    }
    return 0;
}

/* The store this session reads: inside a transaction with edits, the store with them. */
static const store_t *view(dispatch_t *d, struct session *ss)
{
    struct txn *t = ss->txn;
    if (!t || t->nops == 0 || t->view_failed)
        return d->store;
    if (t->view)
        return t->view;
    struct errlist errs = ERRLIST_INIT;
    if (txn_catch_up(d, t, &errs) == 0 && store_build_doc(t->doc, &t->view, &errs) < 0)
        t->view = NULL;
    /* An edit in the middle of a transaction may leave the store invalid for a moment (a
     * CNAME replacing an A record arrives as two edits): answer from the committed store then.
     * The commit checks the end result. */
    t->view_failed = t->view == NULL;
    errlist_free(&errs);
    return t->view ? t->view : d->store;
}

/* A false reply whose log is `what` (which already quotes errs' first message) and the rest. */
static void reply_false_errs(struct sbuf *out, const char *what, const struct errlist *errs)
{
    sbuf_puts(out, "{\"result\":false,\"log\":[");
    put_log_str(out, what);
    for (size_t i = 1; i < errs->n && i < 20; i++) {
        sbuf_putc(out, ',');
        put_log_str(out, errs->msgs[i]);
    }
    sbuf_puts(out, "]}\n");
}

/* A commit, from the request that asked for it to its reply. */
struct dispatch_job {
    dispatch_t *d;
    const char *method; /* commitTransaction or setDomainMetadata */
    struct edit_op *ops;
    size_t nops;
    int r;
    struct dispatch_commit res;
    struct errlist errs;
};

static void job_free(struct dispatch_job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->nops; i++)
        edit_op_clear(&j->ops[i]);
    free(j->ops);
    store_free(j->res.store);
    free(j->res.extra);
    errlist_free(&j->errs);
    free(j);
}

void dispatch_set_async(dispatch_t *d, bool on)
{
    d->async = on;
}

void dispatch_job_run(struct session *ss)
{
    struct dispatch_job *j = ss->job;
    if (j->r == 0 && j->nops)
        j->r = j->d->writer.commit(j->d->writer.opaque, j->ops, j->nops, &j->res, &j->errs);
}

/* A failed commit of a transaction answers null, not false: pdnsutil and the HTTP API ignore
 * commitTransaction's answer and would report success. A reply without a result is an error
 * pdns cannot ignore: the client fails (pdnsutil exits 1, the API answers an error, UPDATE gets
 * SERVFAIL) and pdns starts this backend connection afresh. The reasons are in our log; pdns
 * drops the "log" of such a reply, which carries them anyway. setDomainMetadata's false is
 * heeded by every client. */
int dispatch_job_finish(dispatch_t *d, struct session *ss, struct sbuf *out, struct errbuf *err)
{
    struct dispatch_job *j = ss->job;
    int r = j->r;
    ss->job = NULL;
    if (r == 0) {
        if (j->res.store) {
            d->writer.install(d->writer.opaque, &j->res); /* takes the store */
            j->res.store = NULL;
        }
        reply_true(out);
    } else {
        errbuf_set(err, r, "%s: nothing was changed: %s", j->method,
                   j->errs.n ? j->errs.msgs[0] : strerror(-r));
        bool commit = strcmp(j->method, "commitTransaction") == 0;
        sbuf_puts(out, commit ? "{\"result\":null,\"log\":[" : "{\"result\":false,\"log\":[");
        put_log_str(out, err->msg);
        for (size_t i = 1; i < j->errs.n && i < 20; i++) {
            sbuf_putc(out, ',');
            put_log_str(out, j->errs.msgs[i]);
        }
        sbuf_puts(out, "]}\n");
    }
    job_free(j);
    return r;
}

/* Hands ops (taken) to a commit: in async mode it runs later (DISPATCH_DEFERRED); otherwise now,
 * with the reply appended. r < 0 is a failure decided already (nothing to run). */
static int start_job(dispatch_t *d,
                     struct session *ss,
                     struct call *c,
                     struct edit_op *ops,
                     size_t nops,
                     int r,
                     struct errlist *errs,
                     struct sbuf *out)
{
    struct dispatch_job *j = xcalloc(1, sizeof(*j));
    j->d = d;
    j->method = c->method;
    j->ops = ops;
    j->nops = nops;
    j->r = r;
    j->errs = *errs;
    *errs = (struct errlist)ERRLIST_INIT;
    ss->job = j;
    if (d->async && r == 0 && nops)
        return 2; /* DISPATCH_DEFERRED, through handle() */
    dispatch_job_run(ss);
    return dispatch_job_finish(d, ss, out, c->err) < 0 ? 1 : 0;
}

/* ---- methods ------------------------------------------------------------------------------ */

static int m_initialize(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    json_object *v;
    ss->initialized = true;
    if (d->load && json_object_object_get_ex(c->params, "config", &v)) {
        if (!json_object_is_type(v, json_type_string))
            return errbuf_set(c->err, -EINVAL, "initialize: option 'config' must be a path");
        struct errlist errs = ERRLIST_INIT;
        int r = d->load(d->opaque, json_object_get_string(v), &errs);
        if (r < 0) {
            /* pdns logs every line of "log"; send them all so the operator sees why. */
            sbuf_puts(out, "{\"result\":false,\"log\":[");
            for (size_t i = 0; i < errs.n; i++) {
                if (i)
                    sbuf_putc(out, ',');
                put_log_str(out, errs.msgs[i]);
            }
            sbuf_puts(out, "]}\n");
            errbuf_set(c->err, r, "initialize: cannot load store '%s' (%zu errors)",
                       json_object_get_string(v), errlist_count(&errs));
            errlist_free(&errs);
            return 1; /* reply written */
        }
        errlist_free(&errs);
    }
    reply_true(out);
    return 0;
}

/* Appends a separator unless this is the first record of the reply. */
static void sep(struct sbuf *out, bool *first)
{
    if (!*first)
        sbuf_putc(out, ',');
    *first = false;
}

/* The client's address for "hashed" pools: real-remote ("a.b.c.d/nn", the ECS subnet when pdns
 * has one), else remote. */
static size_t client_bytes(struct call *c, uint8_t *buf)
{
    static const char *const keys[] = {"real-remote", "remote"};
    for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
        json_object *v;
        if (!json_object_object_get_ex(c->params, keys[k], &v) ||
            !json_object_is_type(v, json_type_string))
            continue;
        char text[64];
        const char *s = json_object_get_string(v);
        size_t n = strcspn(s, "/%");
        if (n >= sizeof(text))
            continue;
        memcpy(text, s, n);
        text[n] = '\0';
        if (inet_pton(AF_INET, text, buf) == 1)
            return 4;
        if (inet_pton(AF_INET6, text, buf) == 1)
            return 16;
    }
    return 0;
}

/* Appends the answer of one pool record (A or AAAA) for this query. */
static void put_pool_rr(dispatch_t *d,
                        struct call *c,
                        const struct store_node *n,
                        const struct store_rr *rr,
                        struct sbuf *out,
                        bool *first)
{
    const struct pool *p = rr->pool;
    bool up[POOL_MAX_MEMBERS], out_[POOL_MAX_MEMBERS];
    uint8_t client[16];
    int64_t now = wall_now_ms();
    bool stale = health_stale(d, (struct hmap_beat){.wall_ms = now, .boot_ms = boot_now_ms()});
    for (size_t i = 0; i < p->nmembers; i++) {
        enum override_kind ov =
            d->overrides ? overrides_get(d->overrides, p->members[i].okey, now) : OVERRIDE_NONE;
        out_[i] = ov == OVERRIDE_DRAIN || ov == OVERRIDE_DOWN;
        up[i] = !out_[i] && (ov == OVERRIDE_UP || stale || !d->health ||
                             hmap_verdict(d->health, p->members[i].target) != HEALTH_DOWN);
    }
    struct policy_input in = {
        .up = up,
        .out = out_,
        .family = rr->type == RR_A ? AF_INET : AF_INET6,
        .random = d->rng += 0x9e3779b97f4a7c15ull,
    };
    if (p->policy == POOL_HASHED) {
        in.client_len = client_bytes(c, client);
        in.client = client;
    }
    struct policy_answer ans;
    policy_select(p, &in, &ans);
    for (size_t i = 0; i < ans.n; i++) {
        sep(out, first);
        sbuf_puts(out, "{\"qtype\":\"");
        sbuf_puts(out, rr->type == RR_A ? "A" : "AAAA");
        sbuf_puts(out, "\",\"qname\":");
        sbuf_json_str(out, n->text, strlen(n->text));
        sbuf_puts(out, ",\"content\":\"");
        sbuf_puts(out, ans.addrs[i]->text);
        sbuf_puts(out, "\",\"ttl\":");
        sbuf_u64(out, rr->ttl);
        if (d->verbose) {
            sbuf_puts(out, ",\"domain_id\":");
            sbuf_u64(out, n->zone->id);
            sbuf_puts(out, ",\"auth\":1");
            sbuf_puts(out, n->scoped ? ",\"scopeMask\":" STORE_SCOPE_MASK_TEXT "}"
                                     : ",\"scopeMask\":0}");
        } else {
            sbuf_puts(out, n->scoped ? ",\"scopeMask\":" STORE_SCOPE_MASK_TEXT "}" : "}");
        }
    }
}

/* The ENT pseudo-record that keeps a pool name with an empty answer NODATA. At a scoped name it
 * carries the scopeMask too: pdns would otherwise keep that empty answer in its query cache
 * after members come back. */
static void put_ent(struct sbuf *out, const struct store_node *n)
{
    sbuf_puts(out, "{\"qtype\":\"ENT\",\"qname\":");
    sbuf_json_str(out, n->text, strlen(n->text));
    sbuf_puts(out, n->scoped ? ",\"content\":\"\",\"scopeMask\":" STORE_SCOPE_MASK_TEXT "}"
                             : ",\"content\":\"\"}");
}

/* Appends the records of node n of the given type (RR_ANY: all) to a reply being built. */
void dispatch_set_verbose(dispatch_t *d, bool on)
{
    d->verbose = on;
}

void dispatch_set_fast_lookup(dispatch_t *d, bool on)
{
    d->fast = on;
}

/* A static record with every optional field (dispatch_set_verbose()). */
static void put_verbose(const struct store_node *n, const struct store_rr *rr, struct sbuf *out)
{
    sbuf_puts(out, "{\"qtype\":\"");
    sbuf_puts(out, rrtype_name(rr->type));
    sbuf_puts(out, "\",\"qname\":");
    sbuf_json_str(out, n->text, strlen(n->text));
    sbuf_puts(out, ",\"content\":");
    sbuf_json_str(out, rr->content, strlen(rr->content));
    sbuf_puts(out, ",\"ttl\":");
    sbuf_u64(out, rr->ttl);
    sbuf_puts(out, ",\"domain_id\":");
    sbuf_u64(out, n->zone->id);
    sbuf_puts(out, n->scoped ? ",\"auth\":1,\"scopeMask\":" STORE_SCOPE_MASK_TEXT "}"
                             : ",\"auth\":1,\"scopeMask\":0}");
}

static void put_node(dispatch_t *d,
                     struct call *c,
                     const struct store_node *n,
                     int type,
                     struct sbuf *out,
                     bool *first)
{
    if (type == RR_ANY && !n->dynamic && !d->verbose) {
        if (n->any_len) {
            sep(out, first);
            sbuf_put(out, n->any_frag, n->any_len);
        }
        return;
    }
    for (uint32_t i = 0; i < n->nrr; i++) {
        const struct store_rr *rr = &n->rrs[i];
        if (type != RR_ANY && rr->type != type)
            continue;
        if (rr->pool) {
            put_pool_rr(d, c, n, rr, out, first);
        } else if (d->verbose) {
            sep(out, first);
            put_verbose(n, rr, out);
        } else {
            sep(out, first);
            sbuf_put(out, rr->frag, rr->frag_len);
        }
    }
}

/* The reply to a lookup of node n (NULL: nothing there) for type (0: a type we do not serve).
 * c is needed for hashed pools only (the client's address). */
static void put_lookup_reply(
    dispatch_t *d, struct call *c, const struct store_node *n, int type, struct sbuf *out)
{
    sbuf_puts(out, "{\"result\":[");
    if (n && type > 0) {
        bool first = true;
        if (type == RR_ANY && n->nrr == 0) /* an empty non-terminal's ENT pseudo-record */
            sbuf_put(out, n->any_frag, n->any_len);
        else
            put_node(d, c, n, type, out, &first);
        /* A pool name whose answer is empty (when_all_down "none", or no member of the
         * family) still exists: without a record pdns would say NXDOMAIN, not NODATA. */
        if (first && type == RR_ANY && n->dynamic)
            put_ent(out, n);
    }
    sbuf_puts(out, "]}\n");
}

static int m_lookup(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    const store_t *st = ss->txn ? view(d, ss) : d->store;
    uint8_t name[DNAME_WIRE_MAX];
    size_t tlen;
    int64_t zone_id;
    const char *qtype = param_str(c, "qtype", &tlen);
    if (!qtype || param_name(c, "qname", name) < 0 || param_int(c, "zone-id", -1, &zone_id) < 0)
        return -EINVAL;
    if (zone_id > 0 && !ss->txn && d->freshen && (!st || !store_zone_by_id(st, zone_id))) {
        /* pdns knows a zone we do not: it was added to the file (and pdns told to rediscover)
         * less than a reload interval ago, through another process. */
        freshen(d);
        st = d->store;
    }
    if (!st) {
        reply_false(out);
        return 0;
    }
    put_lookup_reply(d, c, store_find(st, name, zone_id), rrtype_from_name(qtype, tlen), out);
    return 0;
}

static const struct store_zone *zone_param(const store_t *st, struct call *c, const char *key)
{
    uint8_t apex[DNAME_WIRE_MAX];
    if (param_name(c, key, apex) < 0)
        return NULL;
    return store_zone_by_name(st, apex);
}

static int m_list(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    const store_t *st = view(d, ss);
    int64_t id;
    if (param_int(c, "domain_id", -1, &id) < 0)
        return -EINVAL;
    if (!st) {
        reply_false(out);
        return 0;
    }
    const struct store_zone *z = store_zone_by_id(st, id);
    if (!z && id <= 0) {
        z = zone_param(st, c, "zonename");
        if (!z && c->err->msg[0])
            return -EINVAL;
    }
    if (!z) {
        reply_false(out);
        return 0;
    }
    sbuf_puts(out, "{\"result\":[");
    bool first = true;
    for (size_t i = 0; i < z->nnodes; i++)
        put_node(d, c, z->nodes[i], RR_ANY, out, &first);
    sbuf_puts(out, "]}\n");
    return 0;
}

static int m_get_all_domains(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    (void)c;
    freshen(d);
    const store_t *st = view(d, ss);
    sbuf_puts(out, "{\"result\":[");
    size_t n = st ? store_zone_count(st) : 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_putc(out, ',');
        put_domain_info(out, store_zone_at(st, i));
    }
    sbuf_puts(out, "]}\n");
    return 0;
}

static int m_get_domain_info(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    const store_t *st = view(d, ss);
    const struct store_zone *z = st ? zone_param(st, c, "name") : NULL;
    if (!z && !c->err->msg[0] && !ss->txn && d->freshen) {
        freshen(d);
        z = d->store ? zone_param(d->store, c, "name") : NULL;
    }
    if (!z) {
        if (c->err->msg[0])
            return -EINVAL;
        reply_false(out);
        return 0;
    }
    sbuf_puts(out, "{\"result\":");
    put_domain_info(out, z);
    sbuf_puts(out, "}\n");
    return 0;
}

static void put_values(struct sbuf *out, const struct store_meta *m)
{
    sbuf_putc(out, '[');
    for (size_t j = 0; j < m->nvalues; j++) {
        if (j)
            sbuf_putc(out, ',');
        sbuf_json_str(out, m->values[j], strlen(m->values[j]));
    }
    sbuf_putc(out, ']');
}

static int
m_get_all_domain_metadata(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    const store_t *st = view(d, ss);
    const struct store_zone *z = st ? zone_param(st, c, "name") : NULL;
    if (!z && c->err->msg[0])
        return -EINVAL;
    sbuf_puts(out, "{\"result\":{");
    for (size_t i = 0; z && i < z->nmeta; i++) {
        if (i)
            sbuf_putc(out, ',');
        sbuf_json_str(out, z->meta[i].kind, strlen(z->meta[i].kind));
        sbuf_putc(out, ':');
        put_values(out, &z->meta[i]);
    }
    sbuf_puts(out, "}}\n");
    return 0;
}

static int
m_get_domain_metadata(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    const store_t *st = view(d, ss);
    const char *kind = param_str(c, "kind", NULL);
    if (!kind)
        return -EINVAL;
    const struct store_zone *z = st ? zone_param(st, c, "name") : NULL;
    if (!z && c->err->msg[0])
        return -EINVAL;
    for (size_t i = 0; z && i < z->nmeta; i++) {
        if (strcasecmp(z->meta[i].kind, kind) == 0) {
            sbuf_puts(out, "{\"result\":");
            put_values(out, &z->meta[i]);
            sbuf_puts(out, "}\n");
            return 0;
        }
    }
    sbuf_puts(out, "{\"result\":[]}\n");
    return 0;
}

static int m_direct_backend_cmd(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    (void)ss;
    size_t len;
    const char *q = param_str(c, "query", &len);
    if (!q)
        return -EINVAL;
    struct cmd_env env = {
        .store = d->store,
        .health = d->health,
        .overrides = d->overrides,
        .now_ms = wall_now_ms(),
        .boot_ms = boot_now_ms(),
        .reload = d->cmd_reload,
        .stats = d->cmd_stats,
        .opaque = d->cmd_opaque,
    };
    struct sbuf text = SBUF_INIT;
    /* Errors come back as text too: a false result would only make pdnsutil print
     * "backend command failed" without our reason. */
    cmd_run(&env, q, len, &text);
    reply_string(out, sbuf_str(&text), text.len);
    sbuf_free(&text);
    return 0;
}

static bool writable(dispatch_t *d, struct sbuf *out)
{
    if (d->writer.commit)
        return true;
    reply_false_log(out, "edits are not possible: this backend has no store file to write "
                         "(start it with --config FILE)");
    return false;
}

static int m_start_transaction(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    int64_t id;
    char zone[DNAME_TEXT_MAX];
    const char *name = param_str(c, "domain", NULL);
    if (!name || param_int(c, "domain_id", -1, &id) < 0)
        return -EINVAL;
    if (!writable(d, out))
        return 0;
    if (ss->txn) {
        /* pdns never nests transactions; a leftover means its side gave up on the old one */
        txn_free(ss->txn);
        ss->txn = NULL;
    }
    uint8_t apex[DNAME_WIRE_MAX];
    if (param_name(c, "domain", apex) < 0 || edit_zone_name(name, zone, sizeof(zone), c->err) < 0)
        return -EINVAL;
    const struct store_zone *z = d->store ? store_zone_by_name(d->store, apex) : NULL;
    if (!z) {
        errbuf_set(c->err, -ENOENT, "startTransaction: zone '%.300s' is not in the store", name);
        reply_false_log(out, c->err->msg);
        return 1;
    }
    if (id >= 0 && id != z->id) {
        errbuf_set(c->err, -EINVAL, "startTransaction: domain_id %lld is not the id of '%s' (%u)",
                   (long long)id, z->name, z->id);
        reply_false_log(out, c->err->msg);
        return 1;
    }
    struct txn *t = xcalloc(1, sizeof(*t));
    t->zone = xstrdup(zone);
    t->zone_id = z->id;
    t->whole = id >= 0;
    if (t->whole) {
        t->ops = xcalloc(1, sizeof(*t->ops));
        t->cap = 1;
        if (edit_op_clear_zone(zone, &t->ops[0], c->err) < 0) {
            txn_free(t);
            return -EINVAL;
        }
        t->nops = 1;
    }
    ss->txn = t;
    reply_true(out);
    return 0;
}

/* Adds an edit to the session's transaction. An incremental edit is applied to the session's
 * view at once, so that a refused one (a pool's RRset) is refused now, where pdns can say why;
 * a whole-zone load (thousands of feeds) is applied in one go when something reads it. */
static int
add_edit(dispatch_t *d, struct session *ss, struct call *c, struct edit_op *op, struct sbuf *out)
{
    struct txn *t = ss->txn;
    if (t->nops == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->ops = xrealloc(t->ops, t->cap * sizeof(*t->ops));
    }
    t->ops[t->nops++] = *op;
    store_free(t->view);
    t->view = NULL;
    t->view_failed = false;
    if (t->whole) {
        reply_true(out);
        return 0;
    }
    struct errlist errs = ERRLIST_INIT;
    int r = txn_catch_up(d, t, &errs);
    if (r < 0) {
        /* not applied: forget it, and keep the document as it was before */
        edit_op_clear(&t->ops[--t->nops]);
        json_object_put(t->doc);
        t->doc = NULL;
        errbuf_set(c->err, r, "%s: %s", c->method, errs.n ? errs.msgs[0] : "failed");
        reply_false_errs(out, c->err->msg, &errs);
        errlist_free(&errs);
        if (!t->refused)
            t->refused = xstrdup(c->err->msg);
        return 1;
    }
    errlist_free(&errs);
    reply_true(out);
    return 0;
}

static bool in_transaction(struct session *ss, struct call *c, struct sbuf *out)
{
    if (ss->txn)
        return true;
    errbuf_set(c->err, -EINVAL, "%s: no transaction is open on this connection", c->method);
    reply_false_log(out, c->err->msg);
    return false;
}

/* pdns goes on after a refused edit in some flows (pdnsutil delete-rrset, DNS UPDATE): the
 * transaction must then not commit the rest as if it were whole. */
static int refuse(struct session *ss, struct call *c)
{
    if (!ss->txn->refused)
        ss->txn->refused = xstrdup(c->err->msg);
    return -EINVAL;
}

static int m_replace_rrset(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    struct edit_op op;
    if (!in_transaction(ss, c, out))
        return 1;
    if (edit_op_replace(c->params, ss->txn->zone, &op, c->err) < 0)
        return refuse(ss, c);
    return add_edit(d, ss, c, &op, out);
}

static int m_feed_record(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    struct edit_op op;
    if (!in_transaction(ss, c, out))
        return 1;
    if (edit_op_feed(c->params, ss->txn->zone, ss->txn->whole, &op, c->err) < 0)
        return refuse(ss, c);
    return add_edit(d, ss, c, &op, out);
}

static int m_feed_ents(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    (void)d;
    /* Empty non-terminals are derived from the names when the store is built. */
    if (!in_transaction(ss, c, out))
        return 1;
    reply_true(out);
    return 0;
}

static int m_commit_transaction(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    if (!in_transaction(ss, c, out))
        return 1;
    struct txn *t = ss->txn;
    struct errlist errs = ERRLIST_INIT;
    int r = 0;
    if (t->refused) {
        /* pdns goes on after a refused edit in some flows (pdnsutil delete-rrset, DNS UPDATE):
         * the rest must not land as if the transaction were whole */
        errlist_add(&errs, "an edit of this transaction was refused (%s)", t->refused);
        r = -EINVAL;
    }
    struct edit_op *ops = t->ops;
    size_t nops = t->nops;
    t->ops = NULL; /* the job's now */
    t->nops = 0;
    txn_free(t);
    ss->txn = NULL;
    return start_job(d, ss, c, ops, nops, r, &errs, out);
}

static int m_abort_transaction(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    (void)c;
    dispatch_session_end(d, ss);
    reply_true(out);
    return 0;
}

static int
m_set_domain_metadata(dispatch_t *d, struct session *ss, struct call *c, struct sbuf *out)
{
    struct edit_op op;
    struct errlist errs = ERRLIST_INIT;
    if (edit_op_meta(c->params, &op, c->err) < 0)
        return -EINVAL;
    if (!writable(d, out)) {
        edit_op_clear(&op);
        return 0;
    }
    struct edit_op *ops = xmalloc(sizeof(*ops));
    ops[0] = op;
    return start_job(d, ss, c, ops, 1, 0, &errs, out);
}

/* ---- the fast path: the lookup line pdns sends, without json-c -------------------------------
 *
 * json-c took 85% of a lookup's instructions (parse, objects, locale switching, free). pdns's
 * query path sends one shape: {"method": "lookup", "parameters": {...}} with printable ASCII,
 * no escapes and an integer zone-id. That shape, outside a transaction, is read here directly;
 * anything else (escapes, duplicate keys, a string zone-id, other value types, hashed pools,
 * unknown zone ids, bad names) takes the general path, which
 * gives the same answer (the fuzz target checks both paths against each other). */

static const char *fl_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A string of printable ASCII without escapes; returns the byte after its closing quote. */
static const char *fl_str(const char *p, const char *e, const char **s, size_t *n)
{
    if (p >= e || *p != '"')
        return NULL;
    const char *q = ++p;
    while (q < e && *q != '"') {
        unsigned char ch = (unsigned char)*q;
        if (ch < 0x20 || ch >= 0x7f || ch == '\\')
            return NULL;
        q++;
    }
    if (q >= e)
        return NULL;
    *s = p;
    *n = (size_t)(q - p);
    return q + 1;
}

static const char *fl_key(const char *p, const char *e, const char **k, size_t *kn)
{
    p = fl_ws(p, e);
    if (!(p = fl_str(p, e, k, kn)))
        return NULL;
    p = fl_ws(p, e);
    if (p >= e || *p != ':')
        return NULL;
    return fl_ws(p + 1, e);
}

/* Returns 1 when the line was a plain lookup and is answered, 0 for the general path. */
static int
fast_lookup(dispatch_t *d, struct session *ss, const char *line, size_t len, struct sbuf *out)
{
    const char *p = line, *e = line + len, *k, *v, *qname = NULL, *qtype = NULL;
    size_t kn, vn, qnl = 0, qtl = 0;
    int64_t zid = -1;
    unsigned seen = 0;
    if (ss->txn || !d->store || !d->fast)
        return 0;
    p = fl_ws(p, e);
    if (p >= e || *p++ != '{')
        return 0;
    if (!(p = fl_key(p, e, &k, &kn)) || kn != 6 || memcmp(k, "method", 6) != 0)
        return 0;
    if (!(p = fl_str(p, e, &v, &vn)) || vn != 6 || strncasecmp(v, "lookup", 6) != 0)
        return 0;
    p = fl_ws(p, e);
    if (p >= e || *p++ != ',')
        return 0;
    if (!(p = fl_key(p, e, &k, &kn)) || kn != 10 || memcmp(k, "parameters", 10) != 0)
        return 0;
    if (p >= e || *p++ != '{')
        return 0;
    for (;;) {
        if (!(p = fl_key(p, e, &k, &kn)))
            return 0;
        if (p < e && *p == '"') {
            if (!(p = fl_str(p, e, &v, &vn)))
                return 0;
            if (kn == 5 && memcmp(k, "qname", 5) == 0) {
                if (seen & 1)
                    return 0;
                seen |= 1;
                qname = v;
                qnl = vn;
            } else if (kn == 5 && memcmp(k, "qtype", 5) == 0) {
                if (seen & 2)
                    return 0;
                seen |= 2;
                qtype = v;
                qtl = vn;
            } else if (kn == 7 && memcmp(k, "zone-id", 7) == 0) {
                return 0;
            }
        } else {
            const char *s0 = p;
            bool neg = p < e && *p == '-';
            p += neg;
            int64_t x = 0;
            int nd = 0;
            while (p < e && *p >= '0' && *p <= '9') {
                if (++nd > 18)
                    return 0;
                x = x * 10 + (*p++ - '0');
            }
            if (nd == 0 || (nd > 1 && s0[neg] == '0') ||
                (p < e && (*p == '.' || *p == 'e' || *p == 'E')))
                return 0;
            if (kn == 7 && memcmp(k, "zone-id", 7) == 0) {
                if (seen & 4)
                    return 0;
                seen |= 4;
                zid = neg ? -x : x;
            }
        }
        p = fl_ws(p, e);
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        if (p < e && *p == '}') {
            p++;
            break;
        }
        return 0;
    }
    p = fl_ws(p, e);
    if (p >= e || *p++ != '}' || fl_ws(p, e) != e || (seen & 3) != 3)
        return 0;
    const store_t *st = d->store;
    if (zid > 0 && d->freshen && !store_zone_by_id(st, zid))
        return 0;
    uint8_t name[DNAME_WIRE_MAX];
    struct errbuf err;
    if (dname_from_text(qname, qnl, NULL, name, &err) < 0)
        return 0;
    dname_lower(name);
    const struct store_node *n = store_find(st, name, zid);
    /* A hashed pool answers by the client's address, which only the general path reads. */
    for (uint32_t i = 0; n && n->dynamic && i < n->nrr; i++)
        if (n->rrs[i].pool && n->rrs[i].pool->policy == POOL_HASHED)
            return 0;
    put_lookup_reply(d, NULL, n, rrtype_from_name(qtype, qtl), out);
    return 1;
}

/* At least the number of JSON values in p[0..n): one, plus one per comma and opening bracket
 * outside strings. */
static size_t values_bound(const char *p, size_t n)
{
    size_t count = 1;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            if (p[i] == '\\')
                i++;
            else if (p[i] == '"')
                in_str = false;
        } else if (p[i] == '"') {
            in_str = true;
        } else if (p[i] == ',' || p[i] == '[' || p[i] == '{') {
            count++;
        }
    }
    return count;
}

typedef int (*method_fn)(dispatch_t *, struct session *, struct call *, struct sbuf *);

static const struct {
    const char *name;
    method_fn fn;
} methods[] = {
    {"lookup", m_lookup}, /* first: the hot path */
    {"initialize", m_initialize},
    {"list", m_list},
    {"getAllDomains", m_get_all_domains},
    {"getDomainInfo", m_get_domain_info},
    {"getAllDomainMetadata", m_get_all_domain_metadata},
    {"getDomainMetadata", m_get_domain_metadata},
    {"directBackendCmd", m_direct_backend_cmd},
    {"startTransaction", m_start_transaction},
    {"replaceRRSet", m_replace_rrset},
    {"feedRecord", m_feed_record},
    {"commitTransaction", m_commit_transaction},
    {"abortTransaction", m_abort_transaction},
    {"setDomainMetadata", m_set_domain_metadata},
    {"feedEnts", m_feed_ents},
    {"feedEnts3", m_feed_ents},
};

static int handle(dispatch_t *d,
                  struct session *ss,
                  const char *line,
                  size_t len,
                  struct sbuf *out,
                  struct errbuf *err,
                  enum metrics_method *counted)
{
    json_object *req = NULL;
    int r = 0;

    err->msg[0] = '\0';
    ss->requests++;
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0) {
        r = errbuf_set(err, -EINVAL, "empty request line");
        goto bad;
    }
    if (memchr(line, '\0', len)) {
        r = errbuf_set(err, -EINVAL, "request contains a NUL byte");
        goto bad;
    }
    if (fast_lookup(d, ss, line, len, out)) {
        *counted = METRICS_METHOD_LOOKUP;
        return 0;
    }
    if (values_bound(line, len) > DISPATCH_MAX_VALUES) {
        r = errbuf_set(err, -EINVAL, "bad request: more than %d JSON values", DISPATCH_MAX_VALUES);
        goto bad;
    }
    json_tokener_reset(d->tok);
    req = json_tokener_parse_ex(d->tok, line, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(d->tok);
    size_t end = json_tokener_get_parse_end(d->tok);
    if (jerr == json_tokener_continue && end == len) {
        /* json-c ends a number or a literal at the byte after it: "17" or "null" alone is
         * whole, not cut short (and then refused for not being an object) */
        req = json_tokener_parse_ex(d->tok, " ", 1);
        jerr = json_tokener_get_error(d->tok);
    }
    if (jerr != json_tokener_success || end != len) {
        const char *why = jerr == json_tokener_continue  ? "unexpected end of JSON"
                          : jerr == json_tokener_success ? "data after the JSON object"
                                                         : json_tokener_error_desc(jerr);
        r = errbuf_set(err, -EINVAL, "bad request: %s at byte %zu", why, end);
        goto bad;
    }
    json_object *jm, *jp;
    if (!json_object_is_type(req, json_type_object) ||
        !json_object_object_get_ex(req, "method", &jm) ||
        !json_object_is_type(jm, json_type_string))
    {
        r = errbuf_set(err, -EINVAL,
                       "bad request: expected {\"method\": \"...\", "
                       "\"parameters\": {...}}");
        goto bad;
    }
    if (!json_object_object_get_ex(req, "parameters", &jp) || !jp) {
        jp = NULL;
    } else if (!json_object_is_type(jp, json_type_object)) {
        r = errbuf_set(err, -EINVAL, "bad request: 'parameters' must be an object");
        goto bad;
    }

    const char *method = json_object_get_string(jm);
    for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
        if (strcasecmp(method, methods[i].name) != 0)
            continue;
        json_object *empty = NULL;
        if (!jp)
            jp = empty = json_object_new_object();
        struct call c = {.method = methods[i].name, .params = jp, .err = err};
        size_t mark = out->len;
        *counted = metrics_method_of(methods[i].name);
        r = methods[i].fn(d, ss, &c, out);
        json_object_put(empty);
        if (r == 2) { /* a commit for the caller to run: no reply yet */
            r = DISPATCH_DEFERRED;
            goto done;
        }
        if (r > 0) { /* the method wrote its own failure reply */
            r = -EINVAL;
            goto done;
        }
        if (r < 0) {
            sbuf_truncate(out, mark);
            goto bad;
        }
        goto done;
    }
    /* Methods we do not implement (yet) answer false: pdns then falls back or reports
     * "not supported" itself. */
    reply_false(out);
    goto done;

bad:
    reply_false_log(out, err->msg);
done:
    json_object_put(req);
    return r;
}

int dispatch_request(dispatch_t *d,
                     struct session *ss,
                     const char *line,
                     size_t len,
                     struct sbuf *out,
                     struct errbuf *err)
{
    enum metrics_method method = METRICS_METHOD_OTHER;
    if (!d->metrics)
        return handle(d, ss, line, len, out, err, &method);
    struct timespec t0, t1;
    size_t mark = out->len;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = handle(d, ss, line, len, out, err, &method);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
    /* A deferred commit has written no reply (its buffer may not even exist yet). */
    const char *reply = out->len > mark ? out->p + mark : "";
    enum metrics_result res =
        r < 0 ? METRICS_RESULT_ERROR
        : strncmp(reply, "{\"result\":[]", 12) == 0 || strncmp(reply, "{\"result\":false", 16) == 0
            ? METRICS_RESULT_EMPTY
            : METRICS_RESULT_OK;
    metrics_lookup(d->metrics, method, res, us < 0 ? 0 : (uint32_t)us);
    return r;
}

void dispatch_set_metrics(dispatch_t *d, struct metrics *m)
{
    d->metrics = m;
}
