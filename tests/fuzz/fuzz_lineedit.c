/* libFuzzer: the line editor fed arbitrary key bytes (what a serial line
 * with noise or a confused terminal delivers). */
#include <hopvm/lib.h>
#include <hopvm/lineedit.h>
#include <stdlib.h>

static void out(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    volatile char sink = 0;
    for (size_t i = 0; i < n; i++)
        sink ^= s[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lineedit le;
    le_init(&le, out, NULL);
    for (size_t i = 0; i < size; i++) {
        if (le_feed(&le, data[i]) != LE_NONE)
            le_reset(&le);
        if (le.len >= LE_MAX || le.cur > le.len || le.buf[le.len] != 0 || strlen(le.buf) != le.len)
            abort();
    }
    return 0;
}
