/* `bench compute`: the host half of the guest-versus-host compute
 * benchmark (tools/bench-exits runs the guest half in the `compute` guest). */
#include <hopvm/bench_loop.h>
#include <hopvm/cmd.h>
#include <hopvm/lib.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>

#define BENCH_DEFAULT_ITERS 20000000ull

static enum cmd_status cmd_bench(int argc, char **argv)
{
    uint64_t iters = BENCH_DEFAULT_ITERS;
    if (argc < 2 || argc > 3 || strcmp(argv[1], "compute")) {
        kprintf("error: bench knows one benchmark: compute\n");
        return CMD_USAGE;
    }
    if (argc == 3 && (parse_u64(argv[2], &iters) != 0 || iters == 0)) {
        kprintf("error: bad iteration count '%s'\n", argv[2]);
        return CMD_USAGE;
    }
    uint64_t t0 = rdtsc();
    uint64_t r = bench_loop(iters);
    uint64_t t1 = rdtsc();
    kprintf("bench: compute %lu iterations in %lu cycles (result %lx), TSC %lu kHz\n", iters, t1 - t0, r,
            tsc_hz() / 1000);
    return CMD_OK;
}

static const struct cmd bench_cmds[] = {
    {.name = "bench", .usage = "compute [ITERATIONS]", .help = "run the compute loop on the host core",
     .run = cmd_bench},
};

void bench_cmds_register(void)
{
    cmd_register(bench_cmds, ARRAY_SIZE(bench_cmds));
}
