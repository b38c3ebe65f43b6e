/* Console line editor: keys in, a finished line out, with echo and
 * history. Pure: output goes through a callback; unit-tested on Linux. */
#ifndef HOPVM_LINEEDIT_H
#define HOPVM_LINEEDIT_H
#include <stdbool.h>
#include <stddef.h>

#define LE_MAX  256 /* bytes per line, including the NUL */
#define LE_HIST 16  /* remembered lines */

enum le_result { LE_NONE, LE_LINE, LE_CANCEL };

typedef void (*le_out_fn)(void *ctx, const char *s, size_t n);

struct lineedit {
    char buf[LE_MAX];
    size_t len, cur;
    char hist[LE_HIST][LE_MAX];
    int hist_count, hist_next; /* ring: hist_next is the slot written next */
    int hist_pos;              /* -1: editing a new line; else 0 = newest */
    char saved[LE_MAX];        /* the new line while browsing history */
    int esc;                   /* escape-sequence state */
    int esc_arg;
    bool last_cr;
    le_out_fn out;
    void *ctx;
};

void le_init(struct lineedit *le, le_out_fn out, void *ctx);
/* Starts a new empty line (after a prompt). */
void le_reset(struct lineedit *le);
/* Feeds one received byte. LE_LINE: le->buf holds the line (NUL-terminated)
 * and it was added to the history; LE_CANCEL: Ctrl-C dropped the line. */
enum le_result le_feed(struct lineedit *le, int c);

#endif
