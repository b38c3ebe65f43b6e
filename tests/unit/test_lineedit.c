/* The console line editor: keys in, line and echo out. */
#include "check.h"
#include <hopvm/lineedit.h>

static char echo[4096];
static size_t echo_len;

static void out(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n && echo_len + 1 < sizeof(echo); i++)
        echo[echo_len++] = s[i];
    echo[echo_len] = 0;
}

/* Feeds keys; returns the last non-NONE result and leaves the line in le. */
static enum le_result feed(struct lineedit *le, const char *keys)
{
    enum le_result last = LE_NONE;
    for (; *keys; keys++) {
        enum le_result r = le_feed(le, (unsigned char)*keys);
        if (r != LE_NONE)
            last = r;
    }
    return last;
}

static const char *line_of(struct lineedit *le, const char *keys)
{
    static char got[LE_MAX];
    le_reset(le);
    enum le_result r = feed(le, keys);
    if (r != LE_LINE)
        return "(no line)";
    strcpy(got, le->buf);
    return got;
}

#define UP "\x1b[A"
#define DOWN "\x1b[B"
#define LEFT "\x1b[D"
#define RIGHT "\x1b[C"

int main(void)
{
    struct lineedit le;
    le_init(&le, out, NULL);

    CHECK_STR(line_of(&le, "help\r"), "help");
    CHECK_STR(echo, "help\r\n"); /* plain typing echoes as typed */
    CHECK_STR(line_of(&le, "mem\n"), "mem");
    CHECK_STR(line_of(&le, "cpx\bu\r"), "cpu");
    CHECK_STR(line_of(&le, "cpx\x7fu\r"), "cpu");
    CHECK_STR(line_of(&le, "\b\b\bok\r"), "ok"); /* backspace on empty line */
    CHECK_STR(line_of(&le, "garbage\x15uptime\r"), "uptime"); /* Ctrl-U */
    CHECK_STR(line_of(&le, "\r"), "");

    /* CR LF is one Enter: the LF must not produce a second, empty line. */
    le_reset(&le);
    CHECK(feed(&le, "a\r") == LE_LINE);
    le_reset(&le);
    CHECK(le_feed(&le, '\n') == LE_NONE);
    CHECK(feed(&le, "b\n") == LE_LINE);
    CHECK_STR(le.buf, "b");

    /* Ctrl-C drops the line. */
    le_reset(&le);
    CHECK(feed(&le, "reboot\x03") == LE_CANCEL);
    CHECK_U64(le.len, 0);

    /* History: newest first, down returns to the new line being typed. */
    le_init(&le, out, NULL);
    line_of(&le, "one\r");
    line_of(&le, "two\r");
    line_of(&le, "two\r"); /* consecutive duplicate kept once */
    line_of(&le, "three\r");
    le_reset(&le);
    feed(&le, UP);
    CHECK_STR(le.buf, "three");
    feed(&le, UP);
    CHECK_STR(le.buf, "two");
    feed(&le, UP);
    CHECK_STR(le.buf, "one");
    feed(&le, UP UP);
    CHECK_STR(le.buf, "one"); /* stops at the oldest */
    feed(&le, DOWN DOWN);
    CHECK_STR(le.buf, "three");
    feed(&le, DOWN);
    CHECK_STR(le.buf, "");
    CHECK_STR(line_of(&le, "new" UP DOWN "\r"), "new"); /* the typed line comes back */
    CHECK_STR(line_of(&le, UP UP "x\r"), "threex"); /* recalled lines are editable */
    CHECK_STR(line_of(&le, UP "\r"), "threex");      /* and executed ones join the history */
    CHECK_STR(line_of(&le, DOWN DOWN "\r"), "");

    /* Cursor movement and mid-line editing. */
    CHECK_STR(line_of(&le, "vm stat" LEFT LEFT LEFT LEFT "x\r"), "vm xstat");
    CHECK_STR(line_of(&le, "abc" LEFT LEFT "\b\r"), "bc");
    CHECK_STR(line_of(&le, "abc\x01X\x05Y\r"), "XabcY");
    CHECK_STR(line_of(&le, "abc" LEFT LEFT "\x1b[3~\r"), "ac");
    CHECK_STR(line_of(&le, "abc" LEFT RIGHT RIGHT RIGHT "d\r"), "abcd");
    CHECK_STR(line_of(&le, "ab" LEFT LEFT "\x15\r"), "ab"); /* Ctrl-U at start kills nothing */
    CHECK_STR(line_of(&le, "abcd" LEFT LEFT "\x15\r"), "cd");
    /* Unknown escape sequences and control bytes are swallowed. */
    CHECK_STR(line_of(&le, "a\x1b[1;5Zb\x02\x80\xff" "c\r"), "abc");

    /* A full line rings the bell and keeps what fits. */
    le_reset(&le);
    for (int i = 0; i < LE_MAX + 50; i++)
        le_feed(&le, 'x');
    CHECK_U64(le.len, LE_MAX - 1);
    CHECK(strchr(echo, '\a') != NULL);
    CHECK(le_feed(&le, '\r') == LE_LINE);
    CHECK_U64(strlen(le.buf), LE_MAX - 1);
    return check_report("test_lineedit");
}
