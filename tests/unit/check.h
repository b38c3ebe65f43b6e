/* Minimal unit-test harness for the pure modules, built for Linux with
 * ASan and UBSan. Each test binary prints "NAME: N passed, N failed". */
#ifndef HOPVM_CHECK_H
#define HOPVM_CHECK_H
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond)                                                                      \
            check_passed++;                                                            \
        else {                                                                         \
            check_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

#define CHECK_U64(a, b)                                                                \
    do {                                                                               \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                               \
        if (a_ == b_)                                                                  \
            check_passed++;                                                            \
        else {                                                                         \
            check_failed++;                                                            \
            fprintf(stderr, "%s:%d: %s == 0x%" PRIx64 ", expected %s == 0x%" PRIx64 "\n", \
                    __FILE__, __LINE__, #a, a_, #b, b_);                               \
        }                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                \
    do {                                                                               \
        const char *a_ = (a), *b_ = (b);                                               \
        if (a_ && b_ && !strcmp(a_, b_))                                               \
            check_passed++;                                                            \
        else {                                                                         \
            check_failed++;                                                            \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
                    __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");             \
        }                                                                              \
    } while (0)

static inline int check_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed != 0;
}

#endif
