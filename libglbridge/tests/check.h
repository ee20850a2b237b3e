/* check.h: the C tests' assertions. A failing check prints where and why
 * and ends the process with status 1 (_exit, so that a forked child's
 * failure ends only the child, which its parent then reports). */
#ifndef LIBGLBRIDGE_TESTS_CHECK_H
#define LIBGLBRIDGE_TESTS_CHECK_H

#include <stdio.h>
#include <unistd.h>

#include "glbridge.h"

#define FAIL(...)                                                                  \
    do {                                                                           \
        fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                      \
        fprintf(stderr, __VA_ARGS__);                                              \
        fprintf(stderr, "\n");                                                     \
        _exit(1);                                                                  \
    } while (0)
#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            FAIL("%s", #cond);                                                     \
    } while (0)
#define CHECK_EQ(a, b)                                                             \
    do {                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
        if (a_ != b_)                                                              \
            FAIL("%s = %llu (0x%llx), want %s = %llu (0x%llx)", #a, a_, a_, #b, b_, b_); \
    } while (0)
#define CHECK_ST(c, expr, want)                                                    \
    do {                                                                           \
        glbridge_status s_ = (expr);                                               \
        if (s_ != (want)) {                                                        \
            char t_[512] = "";                                                     \
            if (c)                                                                 \
                glbridge_last_error(c, t_, sizeof t_);                             \
            FAIL("%s: got %d (%s) [%s], want %d (%s)", #expr, (int)s_,             \
                 glbridge_strerror(s_), t_, (int)(want), glbridge_strerror(want)); \
        }                                                                          \
    } while (0)

#endif
