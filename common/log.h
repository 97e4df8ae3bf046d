/* SPDX-License-Identifier: MIT */
/* Logging to stderr (never stdout: in pipe mode stdout is the pdns channel), or to syslog after
 * log_use_syslog(). One line per event, written with a single write(2) (or one syslog() call) so
 * lines from different threads do not interleave.
 * Pure modules do not log; they return errors to their caller (see CONTRIBUTING.md). */
#pragma once

#include <stdbool.h>

#include "common/compiler.h"

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_debug(bool on);
bool log_get_debug(void);
/* Prefix every line with this program name (default "pdns-failover"). */
void log_set_ident(const char *ident);
/* Sends every later line to syslog (facility LOG_DAEMON, with the pid, at the priority matching
 * its level) instead of stderr. ident is copied; NULL means the log_set_ident() name. Call once,
 * from the main thread, before starting other threads. */
void log_use_syslog(const char *ident);
void log_msg(enum log_level lvl, const char *group, const char *fmt, ...) ATTR_PRINTF(3, 4);

#define log_err(group, ...)  log_msg(LOG_LVL_ERR, group, __VA_ARGS__)
#define log_warn(group, ...) log_msg(LOG_LVL_WARN, group, __VA_ARGS__)
#define log_info(group, ...) log_msg(LOG_LVL_INFO, group, __VA_ARGS__)
#define log_debug(group, ...)                           \
    do {                                                \
        if (log_get_debug())                            \
            log_msg(LOG_LVL_DEBUG, group, __VA_ARGS__); \
    } while (0)
