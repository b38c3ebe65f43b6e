/* Console commands: a table of {name, usage, help, handler} that modules
 * register into (ACRN-style designated initializers), and the dispatcher. */
#ifndef HOPVM_CMD_H
#define HOPVM_CMD_H
#include <stddef.h>

#define CMD_MAX_ARGS 16

enum cmd_status {
    CMD_OK = 0,
    CMD_USAGE,  /* bad arguments: the handler printed an error; print usage */
    CMD_FAIL,   /* the handler printed why it failed */
};

#define CMD_DEBUG 0x1 /* only in debug builds; marked in help */

struct cmd {
    const char *name;
    const char *usage; /* arguments only, e.g. "[CMD]" */
    const char *help;  /* one line */
    enum cmd_status (*run)(int argc, char **argv);
    unsigned flags;
};

/* Splits line in place into at most max words; double or single quotes
 * group words. Returns argc, or -1 with *err set (unterminated quote,
 * too many words). */
int args_split(char *line, char **argv, int max, const char **err);

/* Adds a table; the pointer must stay valid. Returns 0, -1 if full or a
 * name is taken. */
int cmd_register(const struct cmd *table, size_t n);
const struct cmd *cmd_find(const char *name);
/* Runs one console line. Errors print one line (and the usage). */
enum cmd_status cmd_execute(char *line);
/* Calls fn for every registered command in registration order. */
void cmd_foreach(void (*fn)(const struct cmd *c, void *ctx), void *ctx);
void cmd_print_usage(const struct cmd *c);

/* Registration functions of the modules that own commands. */
void host_cmds_register(void);
void vm_cmds_register(void);
void bench_cmds_register(void);
void pci_cmds_register(void);

#endif
