/* Console word splitting. Pure; fuzzed (tests/fuzz/fuzz_args.c). */
#include <hopvm/cmd.h>

int args_split(char *line, char **argv, int max, const char **err)
{
    int argc = 0;
    char *r = line, *w = line;
    for (;;) {
        while (*r == ' ' || *r == '\t')
            r++;
        if (!*r)
            break;
        if (argc == max) {
            *err = "too many words";
            return -1;
        }
        argv[argc++] = w;
        char quote = 0;
        while (*r && (quote || (*r != ' ' && *r != '\t'))) {
            if (!quote && (*r == '"' || *r == '\'')) {
                quote = *r++;
                continue;
            }
            if (quote && *r == quote) {
                quote = 0;
                r++;
                continue;
            }
            *w++ = *r++;
        }
        if (quote) {
            *err = "unterminated quote";
            return -1;
        }
        if (*r)
            r++;
        *w++ = 0; /* w never passes r, so this is inside the line */
    }
    return argc;
}
