/* SPDX-License-Identifier: MIT */
/* Attribute macros shared by every module. */
#pragma once

#define ATTR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define ATTR_NORETURN          __attribute__((noreturn))
#define ATTR_UNUSED            __attribute__((unused))
#define ATTR_WARN_UNUSED       __attribute__((warn_unused_result))
#define likely(x)              __builtin_expect(!!(x), 1)
#define unlikely(x)            __builtin_expect(!!(x), 0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
