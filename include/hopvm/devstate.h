/* Saving and loading a device's fields in a DEVICE record (vmm/dev/state.c):
 * a table of the struct's fields, each with its largest value. */
#ifndef HOPVM_DEVSTATE_H
#define HOPVM_DEVSTATE_H
#include <hopvm/mig_state.h>
#include <stddef.h>
#include <stdint.h>

struct dev_field {
    const char *name;   /* the property's name after the prefix: [a-z0-9-] */
    size_t off;         /* in the struct */
    uint8_t size;       /* an integer of 1, 2, 4 or 8 bytes ... */
    uint32_t bytes;     /* ... or, if not 0, a byte array this long */
    uint64_t max;       /* an integer's largest valid value */
};
#define DEV_INT(st, field, nm, mx) {nm, offsetof(st, field), sizeof(((st *)0)->field), 0, mx}
#define DEV_BOOL(st, field, nm)    {nm, offsetof(st, field), sizeof(((st *)0)->field), 0, 1}
#define DEV_BYTES(st, field, nm)   {nm, offsetof(st, field), 0, sizeof(((st *)0)->field), 0}

/* prefix may be NULL, or e.g. "ch0-" for one of several alike. 0 or -1. */
int devstate_save(struct mig_dev *d, const char *prefix, const void *base, const struct dev_field *f, unsigned n);
int devstate_load(const struct mig_dev *d, const char *prefix, void *base, const struct dev_field *f, unsigned n,
                  char *err, size_t errn);

#endif
