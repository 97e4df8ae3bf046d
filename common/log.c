/* SPDX-License-Identifier: MIT */
/* stderr logger: "pdns-failover[pid]: level group: message", one write(2) per line; or syslog
 * ("level group: message" at the level's priority) once log_use_syslog() was called. */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

static atomic_bool debug_on;
static const char *log_ident = "pdns-failover";
static atomic_bool syslog_on;
static char syslog_ident[64]; /* openlog() keeps the pointer */

void log_set_debug(bool on)
{
    atomic_store(&debug_on, on);
}

bool log_get_debug(void)
{
    return atomic_load_explicit(&debug_on, memory_order_relaxed);
}

void log_set_ident(const char *ident)
{
    log_ident = ident;
}

void log_use_syslog(const char *ident)
{
    snprintf(syslog_ident, sizeof(syslog_ident), "%s", ident ? ident : log_ident);
    openlog(syslog_ident, LOG_PID, LOG_DAEMON);
    atomic_store(&syslog_on, true);
}

void log_msg(enum log_level lvl, const char *group, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    static const int prios[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    bool to_syslog = atomic_load_explicit(&syslog_on, memory_order_relaxed);
    char line[2048];
    /* syslog adds the ident and pid itself. */
    int n = to_syslog ? snprintf(line, sizeof(line), "%s %s: ", names[lvl], group)
                      : snprintf(line, sizeof(line), "%s[%ld]: %s %s: ", log_ident, (long)getpid(),
                                 names[lvl], group);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (m > 0)
        len += (size_t)m < sizeof(line) - len ? (size_t)m : sizeof(line) - len - 1;
    /* Control characters from user input must not split or forge log lines. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20)
            line[i] = ' ';
    if (to_syslog) {
        line[len] = '\0';
        syslog(prios[lvl], "%s", line);
        return;
    }
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
