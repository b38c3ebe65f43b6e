/* Line editing for the serial console. Understands what terminals send:
 * printable ASCII, BS/DEL, Ctrl-A/E/U/C, CR, LF, CR LF, and the ANSI/VT100
 * cursor sequences ESC [ A/B/C/D/H/F and ESC [ 3 ~ (ECMA-48 CSI). */
#include <hopvm/lib.h>
#include <hopvm/lineedit.h>

#define KEY_CTRL_A 0x01
#define KEY_CTRL_C 0x03
#define KEY_CTRL_E 0x05
#define KEY_BS     0x08
#define KEY_CTRL_U 0x15
#define KEY_ESC    0x1b
#define KEY_DEL    0x7f

enum { ESC_NONE, ESC_GOT, ESC_CSI };

static void out(struct lineedit *le, const char *s, size_t n) { le->out(le->ctx, s, n); }
static void outs(struct lineedit *le, const char *s) { out(le, s, strlen(s)); }

static void back(struct lineedit *le, size_t n)
{
    while (n--)
        out(le, "\b", 1);
}

void le_init(struct lineedit *le, le_out_fn fn, void *ctx)
{
    memset(le, 0, sizeof(*le));
    le->out = fn;
    le->ctx = ctx;
    le->hist_pos = -1;
}

void le_reset(struct lineedit *le)
{
    le->len = le->cur = 0;
    le->buf[0] = 0;
    le->hist_pos = -1;
    le->esc = ESC_NONE;
}

/* Redraws from position `from` to the end, clears what is left of the old
 * line and puts the terminal cursor back at le->cur. */
static void redraw_from(struct lineedit *le, size_t from)
{
    out(le, le->buf + from, le->len - from);
    outs(le, "\x1b[K");
    back(le, le->len - le->cur);
}

/* Replaces the whole line (history recall). */
static void replace(struct lineedit *le, const char *s)
{
    back(le, le->cur);
    size_t n = strlen(s);
    if (n > LE_MAX - 1)
        n = LE_MAX - 1;
    memcpy(le->buf, s, n);
    le->buf[n] = 0;
    le->len = le->cur = n;
    redraw_from(le, 0);
}

static const char *hist_get(const struct lineedit *le, int age)
{
    int idx = (le->hist_next - 1 - age + LE_HIST) % LE_HIST;
    return le->hist[idx];
}

static void hist_add(struct lineedit *le)
{
    if (!le->len)
        return;
    if (le->hist_count && !strcmp(hist_get(le, 0), le->buf))
        return; /* no consecutive duplicates */
    memcpy(le->hist[le->hist_next], le->buf, le->len + 1);
    le->hist_next = (le->hist_next + 1) % LE_HIST;
    if (le->hist_count < LE_HIST)
        le->hist_count++;
}

static void hist_move(struct lineedit *le, int dir)
{
    int pos = le->hist_pos + dir;
    if (pos < -1 || pos >= le->hist_count)
        return;
    if (le->hist_pos == -1)
        memcpy(le->saved, le->buf, le->len + 1);
    le->hist_pos = pos;
    replace(le, pos == -1 ? le->saved : hist_get(le, pos));
}

static void insert(struct lineedit *le, char c)
{
    if (le->len + 1 >= LE_MAX) {
        outs(le, "\a"); /* full: ring the bell, drop the key */
        return;
    }
    memmove(le->buf + le->cur + 1, le->buf + le->cur, le->len - le->cur);
    le->buf[le->cur] = c;
    le->len++;
    le->buf[le->len] = 0;
    le->cur++;
    if (le->cur == le->len)
        out(le, &c, 1); /* common case: plain echo */
    else
        redraw_from(le, le->cur - 1);
}

static void delete_at(struct lineedit *le, size_t at, size_t n)
{
    memmove(le->buf + at, le->buf + at + n, le->len - at - n);
    le->len -= n;
    le->buf[le->len] = 0;
}

static void backspace(struct lineedit *le)
{
    if (!le->cur)
        return;
    le->cur--;
    delete_at(le, le->cur, 1);
    if (le->cur == le->len)
        outs(le, "\b \b");
    else {
        outs(le, "\b");
        redraw_from(le, le->cur);
    }
}

static void kill_to_start(struct lineedit *le)
{
    size_t n = le->cur;
    back(le, n);
    delete_at(le, 0, n);
    le->cur = 0;
    redraw_from(le, 0);
}

static void move_to(struct lineedit *le, size_t pos)
{
    if (pos < le->cur)
        back(le, le->cur - pos);
    else
        out(le, le->buf + le->cur, pos - le->cur);
    le->cur = pos;
}

static void csi_final(struct lineedit *le, int c)
{
    switch (c) {
    case 'A': hist_move(le, +1); break;
    case 'B': hist_move(le, -1); break;
    case 'C': if (le->cur < le->len) move_to(le, le->cur + 1); break;
    case 'D': if (le->cur) move_to(le, le->cur - 1); break;
    case 'H': move_to(le, 0); break;
    case 'F': move_to(le, le->len); break;
    case '~':
        if (le->esc_arg == 3 && le->cur < le->len) { /* Delete key */
            delete_at(le, le->cur, 1);
            redraw_from(le, le->cur);
        }
        break;
    default: break; /* unknown sequences are swallowed whole */
    }
}

enum le_result le_feed(struct lineedit *le, int c)
{
    bool after_cr = le->last_cr;
    le->last_cr = false;
    if (le->esc == ESC_GOT) {
        le->esc = (c == '[' || c == 'O') ? ESC_CSI : ESC_NONE;
        le->esc_arg = 0;
        return LE_NONE;
    }
    if (le->esc == ESC_CSI) {
        if (c >= '0' && c <= '9') {
            le->esc_arg = le->esc_arg * 10 + (c - '0');
            if (le->esc_arg > 1000)
                le->esc_arg = 1000;
            return LE_NONE;
        }
        if (c == ';')
            return LE_NONE;
        le->esc = ESC_NONE;
        csi_final(le, c);
        return LE_NONE;
    }
    switch (c) {
    case '\n':
        if (after_cr)
            return LE_NONE; /* CR LF is one Enter */
        /* fall through */
    case '\r':
        le->last_cr = c == '\r';
        outs(le, "\r\n");
        hist_add(le);
        le->hist_pos = -1;
        return LE_LINE;
    case KEY_CTRL_C:
        outs(le, "^C\r\n");
        le_reset(le);
        return LE_CANCEL;
    case KEY_BS:
    case KEY_DEL: backspace(le); break;
    case KEY_CTRL_U: kill_to_start(le); break;
    case KEY_CTRL_A: move_to(le, 0); break;
    case KEY_CTRL_E: move_to(le, le->len); break;
    case KEY_ESC: le->esc = ESC_GOT; break;
    default:
        if (c >= 0x20 && c < 0x7f)
            insert(le, (char)c);
        break; /* other control and 8-bit bytes are ignored */
    }
    return LE_NONE;
}
