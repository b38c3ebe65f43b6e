/* The console command registry and dispatcher. */
#include <hopvm/cmd.h>
#include <hopvm/lib.h>

#define MAX_TABLES 16

static struct {
    const struct cmd *cmds;
    size_t n;
} tables[MAX_TABLES];
static size_t ntables;

const struct cmd *cmd_find(const char *name)
{
    for (size_t t = 0; t < ntables; t++)
        for (size_t i = 0; i < tables[t].n; i++)
            if (!strcmp(tables[t].cmds[i].name, name))
                return &tables[t].cmds[i];
    return NULL;
}

int cmd_register(const struct cmd *table, size_t n)
{
    if (ntables == MAX_TABLES)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (cmd_find(table[i].name))
            return -1;
    tables[ntables].cmds = table;
    tables[ntables].n = n;
    ntables++;
    return 0;
}

void cmd_foreach(void (*fn)(const struct cmd *c, void *ctx), void *ctx)
{
    for (size_t t = 0; t < ntables; t++)
        for (size_t i = 0; i < tables[t].n; i++)
            fn(&tables[t].cmds[i], ctx);
}

void cmd_print_usage(const struct cmd *c)
{
    kprintf("usage: %s%s%s\n", c->name, c->usage[0] ? " " : "", c->usage);
}

enum cmd_status cmd_execute(char *line)
{
    char *argv[CMD_MAX_ARGS];
    const char *err = NULL;
    int argc = args_split(line, argv, CMD_MAX_ARGS, &err);
    if (argc < 0) {
        kprintf("error: %s\n", err);
        return CMD_USAGE;
    }
    if (argc == 0)
        return CMD_OK;
    const struct cmd *c = cmd_find(argv[0]);
    if (!c) {
        kprintf("error: unknown command '%s' (type 'help' for the list)\n", argv[0]);
        return CMD_USAGE;
    }
    enum cmd_status s = c->run(argc, argv);
    if (s == CMD_USAGE)
        cmd_print_usage(c);
    return s;
}
