/* libFuzzer: console word splitting. */
#include <hopvm/cmd.h>
#include <hopvm/lib.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    memcpy(line, data, size);
    line[size] = 0;
    char *argv[CMD_MAX_ARGS];
    const char *err;
    int argc = args_split(line, argv, CMD_MAX_ARGS, &err);
    if (argc > CMD_MAX_ARGS)
        abort();
    for (int i = 0; i < argc; i++)
        if (argv[i] < line || argv[i] + strlen(argv[i]) > line + size)
            abort();
    free(line);
    return 0;
}
