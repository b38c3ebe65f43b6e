/* Checked reading and latched writing of the migration stream's device
 * trees (migrate/fdt_io.c), internal to migrate/: the record encoders and
 * decoders (migrate/state_fdt.c) are built on these, so a new DEVICE record
 * is only its own encode and decode.
 *
 * Writing: tree_wr wraps libfdt's sequential-write API; the first error
 * sticks and later calls do nothing, so an encoder writes every property
 * and checks once, in wr_finish.
 *
 * Reading: rd_open validates the whole tree (header, block layout, a
 * size_t walk of the structure block, fdt_check_full) before any lookup;
 * each getter checks a property's presence, exact size and range, and on
 * the first problem writes a one-line reason "REC: ..." into the caller's
 * buffer and returns -1 (or NULL / a negative offset). */
#ifndef HOPVM_MIGRATE_FDT_IO_H
#define HOPVM_MIGRATE_FDT_IO_H
#include <hopvm/config.h>
#include <stddef.h>
#include <stdint.h>

#define CELL 4      /* bytes in one device-tree cell, big-endian */
#define U64_BYTES 8 /* a u64 property: two cells, high first */
#define BYTE_MAX 0xffu

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + CELL); }
static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A named field of a decoded struct, for table-driven records. */
struct field {
    const char *name;
    size_t off; /* in the decoded struct */
};
#define AT(T, base, off) ((T *)((char *)(base) + (off)))
#define AT_C(T, base, off) ((const T *)((const char *)(base) + (off)))

/* ------------------------------------------------------------------ writing */

struct tree_wr {
    void *fdt;
    int err; /* the first libfdt error; later calls do nothing */
};

/* Starts a tree in buf (8-byte aligned), capped at min(cap, max) bytes,
 * with its root node open. */
void wr_start(struct tree_wr *w, void *buf, size_t cap, size_t max);
/* Closes the root and finishes: 0 and *len = the tree's size, or -1. */
int wr_finish(struct tree_wr *w, size_t *len);
void wr_begin(struct tree_wr *w, const char *name);
void wr_end(struct tree_wr *w);
void wr_u32(struct tree_wr *w, const char *name, uint32_t v);
void wr_u64(struct tree_wr *w, const char *name, uint64_t v);
void wr_bytes(struct tree_wr *w, const char *name, const void *p, size_t n);
/* Space for n bytes of value, or NULL (error latched). */
uint8_t *wr_place(struct tree_wr *w, const char *name, size_t n);
void wr_cells(struct tree_wr *w, const char *name, const uint32_t *c, unsigned n);
/* s with its NUL; an error if s fills its field of `field` bytes. */
void wr_str(struct tree_wr *w, const char *name, const char *s, size_t field);

/* ------------------------------------------------------------------ reading */

struct tree_rd {
    const void *fdt;
    const char *rec; /* "VM_DEF", ... : the reason's prefix */
    char *err;       /* may be NULL (or errn 0): no reason wanted */
    size_t errn;
};

/* Writes "rec: " and the message into r->err; always -1. */
int rd_fail(struct tree_rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "bad device tree: " and libfdt's name for fdt_err; always -1. */
int rd_bad_tree(struct tree_rd *r, int fdt_err);

/* Checks the tree as a whole (exactly len bytes) and sets r->fdt: 0 or -1. */
int rd_open(struct tree_rd *r, const void *buf, size_t len);
/* The offset of the node at path, or -1. */
int rd_node(struct tree_rd *r, const char *path);
/* The value of a property of exactly want bytes, or NULL. */
const uint8_t *rd_exact(struct tree_rd *r, int node, const char *name, int want);
/* A property of at most max bytes: its value and *len, or NULL. */
const uint8_t *rd_upto(struct tree_rd *r, int node, const char *name, size_t max, size_t *len);
/* One cell, at most max. */
int rd_u32(struct tree_rd *r, int node, const char *name, uint32_t max, uint32_t *out);
/* An optional cell, at most max: dflt if the property is absent (a writer
 * older than the property), else as rd_u32. */
int rd_u32_opt(struct tree_rd *r, int node, const char *name, uint32_t max, uint32_t dflt, uint32_t *out);
/* Is the property there: 1, 0 (absent: a writer older than it), or -1
 * if the tree is bad. */
int rd_has(struct tree_rd *r, int node, const char *name);
/* One cell, at most BYTE_MAX. */
int rd_u8(struct tree_rd *r, int node, const char *name, uint8_t *out);
int rd_u64(struct tree_rd *r, int node, const char *name, uint64_t *out);
/* Exactly n cells. */
int rd_cells(struct tree_rd *r, int node, const char *name, uint32_t *c, unsigned n);
/* One NUL-terminated string of printable ASCII that fits field bytes. */
int rd_str(struct tree_rd *r, int node, const char *name, char *dst, size_t field);
/* hopvm.cfg's rules for names ([A-Za-z0-9._-], not empty) and kernel
 * files (no path, no space): 0 or -1 naming `what`. */
int rd_check_name(struct tree_rd *r, const char *what, const char *s);
int rd_check_file(struct tree_rd *r, const char *what, const char *s);
/* Opens a DEVICE record: checks the tree, finds /device and reads its
 * type (a valid name). The node's offset, or -1. */
int rd_device(struct tree_rd *r, const void *buf, size_t len, char type[CFG_NAME_MAX]);

#endif
