/* SPDX-License-Identifier: MIT */
/* Durable store edits: the only code that writes the store file. A commit takes the writers'
 * lock (an flock on "<store>.lock", so writers in every process and connection take turns),
 * reads the file as it is now, applies the edits, checks that the result loads as a store,
 * writes it in the canonical layout to "<store>.tmp", fsyncs it, renames it over the store and
 * fsyncs the directory. A reader sees the old file or the new one, never a mix; a writer killed
 * at any point leaves the old file or the new one. Part of the I/O shell. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "backend/edit.h"
#include "backend/store.h"
#include "common/errlist.h"

/* How long a commit waits for another writer before it gives up: below pdns's default 2 s
 * timeout for one backend call, so pdns hears the reason instead of timing out. */
#define COMMIT_LOCK_WAIT_MS 1500

/* Reads the store file as a document (for a transaction's own view of its edits). Returns 0 and
 * *doc (json_object_put() it), or -errno with the reasons in errs. */
int commit_read(const char *path, json_object **doc, struct errlist *errs);

/* Applies ops[0..n) to the store file durably (n == 0 rewrites it in the canonical layout).
 * Returns 0 with the new store in *ret_store (when ret_store is not NULL; the caller owns it) and
 * the new file's identity in *ret_st (when not NULL), or -errno with every reason in errs; the
 * file is then unchanged. On success errs may hold a warning ("warning: ..."): the directory
 * could not be synced. *changed (when not NULL) tells whether the bytes differ. A symlinked
 * store is written where it points. */
int commit_apply(const char *path,
                 struct edit_op *ops,
                 size_t n,
                 store_t **ret_store,
                 struct stat *ret_st,
                 bool *changed,
                 struct errlist *errs);

/* The canonical layout of the store file at path, for `pdns-failover fmt --check`: *same tells
 * whether the file is already in it. Returns 0 or -errno with reasons in errs. */
int commit_check_format(const char *path, bool *same, struct errlist *errs);
