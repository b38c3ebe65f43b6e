/* Word splitting, the command registry and the dispatcher. */
#include "check.h"
#include <hopvm/cmd.h>
#include <hopvm/lib.h>
#include <stdarg.h>

static char output[4096];

int kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = strlen(output);
    int r = kvsnprintf(output + n, sizeof(output) - n, fmt, ap);
    va_end(ap);
    return r;
}

static int split(const char *in, char **argv, int max, const char **err)
{
    static char buf[256];
    strcpy(buf, in);
    return args_split(buf, argv, max, err);
}

static int ran;
static enum cmd_status run_ok(int argc, char **argv) { (void)argv; ran = argc; return CMD_OK; }
static enum cmd_status run_bad(int argc, char **argv)
{
    (void)argc;
    kprintf("error: bad '%s'\n", argv[1]);
    return CMD_USAGE;
}

static const struct cmd table[] = {
    {.name = "go", .usage = "[X]", .help = "goes", .run = run_ok},
    {.name = "bad", .usage = "ARG", .help = "fails", .run = run_bad},
};
static const struct cmd clash[] = {
    {.name = "new", .usage = "", .help = "", .run = run_ok},
    {.name = "go", .usage = "", .help = "", .run = run_ok},
};

static void count(const struct cmd *c, void *ctx) { (void)c; (*(int *)ctx)++; }

int main(void)
{
    char *argv[CMD_MAX_ARGS];
    const char *err = NULL;
    CHECK_U64(split("", argv, 4, &err), 0);
    CHECK_U64(split("   \t ", argv, 4, &err), 0);
    CHECK_U64(split("vm start  hello", argv, 4, &err), 3);
    CHECK_STR(argv[0], "vm");
    CHECK_STR(argv[2], "hello");
    CHECK_U64(split("set cmdline \"a b  c\" x", argv, 4, &err), 4);
    CHECK_STR(argv[2], "a b  c");
    CHECK_STR(argv[3], "x");
    CHECK_U64(split("'it''s' \"\"", argv, 4, &err), 2);
    CHECK_STR(argv[0], "its");
    CHECK_STR(argv[1], "");
    CHECK_U64(split("a\"b c\"d", argv, 4, &err), 1);
    CHECK_STR(argv[0], "ab cd");
    CHECK(split("say \"oops", argv, 4, &err) == -1);
    CHECK_STR(err, "unterminated quote");
    CHECK(split("1 2 3 4 5", argv, 4, &err) == -1);
    CHECK_STR(err, "too many words");
    CHECK_U64(split("1 2 3 4", argv, 4, &err), 4);

    CHECK(cmd_register(table, 2) == 0);
    CHECK(cmd_register(clash, 2) == -1); /* 'go' is taken: whole table refused */
    CHECK(cmd_find("new") == NULL);
    CHECK(cmd_find("go") == &table[0]);
    int n = 0;
    cmd_foreach(count, &n);
    CHECK_U64(n, 2);

    char line[64];
    strcpy(line, "go a b");
    CHECK(cmd_execute(line) == CMD_OK);
    CHECK_U64(ran, 3);
    output[0] = 0;
    strcpy(line, "nosuch thing");
    CHECK(cmd_execute(line) == CMD_USAGE);
    CHECK_STR(output, "error: unknown command 'nosuch' (type 'help' for the list)\n");
    output[0] = 0;
    strcpy(line, "bad x");
    CHECK(cmd_execute(line) == CMD_USAGE);
    CHECK_STR(output, "error: bad 'x'\nusage: bad ARG\n");
    output[0] = 0;
    strcpy(line, "go \"unterminated");
    CHECK(cmd_execute(line) == CMD_USAGE);
    CHECK_STR(output, "error: unterminated quote\n");
    strcpy(line, "   ");
    CHECK(cmd_execute(line) == CMD_OK);
    return check_report("test_cmd");
}
