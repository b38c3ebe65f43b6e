/* libFuzzer: \_S5 search in AML from firmware tables. */
#include <hopvm/acpi.h>
#include <hopvm/lib.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    uint8_t a, b;
    if (acpi_find_s5(copy, size, &a, &b) == 0 && (a > 7 || b > 7))
        abort();
    free(copy);
    return 0;
}
