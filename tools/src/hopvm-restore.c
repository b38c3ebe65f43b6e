/* hopvm-restore: hand a guest saved by hopvm-save to a hopvm, which runs it
 * on from where it was saved. It reads and checks the whole file first
 * (guest_image_load: every record, the counts and the SHA-256 digest),
 * then is the source of one teleport (hopvm's own session code,
 * migrate/source.c) to a hopvm running `teleport listen`.
 *   hopvm-restore FILE HOST [--port P] [--password X | --password-file F]
 * Exit status 0 if the hopvm took the guest (the session reached
 * MIG_DONE; FILE is then renamed FILE.restored, since the guest runs
 * there now); 1 with one line saying why if not (the file is left as it
 * was); 2 for a bad command line. */
#define _DEFAULT_SOURCE
#include "guest_image.h"
#include "mig_sock.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG     "hopvm-restore"
#define ERR_MAX  512
#define EXIT_USAGE 2

struct restorer {
    struct guest_image g;
    const char *path, *host;
    struct guest_file_info info;
};

static struct restorer rs;
static struct mig_session session;

/* ---- the guest, as the source session sees it --------------------------- */

static void describe(void *ctx, struct mig_vmdef *d) { *d = ((struct restorer *)ctx)->g.def; }
static const uint8_t *page(void *ctx, uint64_t gfn) { return ((struct restorer *)ctx)->g.ram + gfn * RAM_PAGE_SIZE; }
static void vcpu(void *ctx, unsigned i, struct mig_vcpu *v) { *v = ((struct restorer *)ctx)->g.vcpu[i]; }
static void uart(void *ctx, struct mig_uart *u) { *u = ((struct restorer *)ctx)->g.uart; }
/* The other devices, in the file's order; none in a file of an older hopvm. */
static int device(void *ctx, unsigned i, struct mig_dev *d)
{
    const struct guest_image *g = &((struct restorer *)ctx)->g;
    if (i >= g->ndev)
        return 1;
    *d = g->dev[i];
    return 0;
}

/* The point of no return, as when hopvm retires a guest it teleported:
 * the file is renamed FILE.restored before COMMIT goes out, so restoring
 * it again cannot start a second copy of a guest that now runs there. */
static void handed_over(void *ctx)
{
    struct restorer *r = ctx;
    char done[4096];
    snprintf(done, sizeof(done), "%s.restored", r->path);
    if (rename(r->path, done) != 0)
        fprintf(stderr, "%s: warning: cannot rename %s to %s; do not restore it again\n", PROG, r->path, done);
    printf("%s: %s holds all of '%s': handing it over (the file is now %s)\n", PROG, r->host, r->g.def.name,
           done);
    fflush(stdout);
}

static const struct mig_source_ops ops = {.describe = describe, .page = page, .vcpu = vcpu, .uart = uart,
                                         .device = device, .handed_over = handed_over};

/* ---- the program -------------------------------------------------------- */

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int report(const struct mig_session *s, bool flushed, double secs)
{
    const char *name = rs.g.def.name;
    if (s->phase != MIG_DONE) {
        fprintf(stderr, "%s: failed: %s%s; %s is unchanged\n", PROG, s->error_from_peer ? "the peer says: " : "",
                s->error[0] ? s->error : "the session ended early", rs.path);
        return 1;
    }
    printf("%s: '%s' handed over to %s in %.2f s: %llu MiB RAM (%llu zero pages), %llu KB on the wire; it runs "
           "there\n", PROG, name, rs.host, secs, (unsigned long long)(s->st.ram_pages * RAM_PAGE_SIZE >> 20),
           (unsigned long long)s->st.zero_pages, (unsigned long long)((s->st.bytes_out + s->st.bytes_in) / 1000));
    if (!flushed)
        printf("%s: the link failed before COMMIT went out: %s holds '%s' paused; run it there with "
               "'vm resume %s'\n", PROG, rs.host, name, name);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: %s FILE HOST [--port P] [--password X | --password-file F] [--v1]\n", PROG);
}

int main(int argc, char **argv)
{
    struct mig_sock_opts o;
    char err[ERR_MAX], host[HELLO_HOST_MAX + 1];
    uint8_t rnd[MIG_RANDOM_LEN];
    mig_sock_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        int rc = mig_sock_option(argc, argv, &i, &o, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "%s: %s\n", PROG, err);
            return EXIT_USAGE;
        } else if (rc > 0) {
            continue;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "%s: unknown option '%s'\n", PROG, argv[i]);
            return EXIT_USAGE;
        } else if (!rs.path) {
            rs.path = argv[i];
        } else if (!rs.host) {
            rs.host = argv[i];
        } else {
            fprintf(stderr, "%s: unexpected argument '%s'\n", PROG, argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!rs.host) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (guest_image_load(&rs.g, rs.path, o.password, &rs.info, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s: %s\n", PROG, rs.path, err);
        return 1;
    }
    printf("%s: loaded '%s' (%llu MiB, %u vCPU, %llu zero pages) from %s, saved from %s\n", PROG, rs.g.def.name,
           (unsigned long long)(rs.g.def.memory >> 20), rs.g.def.vcpus, (unsigned long long)rs.info.zero_pages,
           rs.path, rs.g.def.source_host);
    fflush(stdout);
    int rc = 1;
    mig_sock_catch_signals();
    int fd = mig_sock_random(rnd, err, sizeof(err)) == 0 ? mig_sock_connect(rs.host, o.port, err, sizeof(err)) : -1;
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", PROG, err);
    } else {
        printf("%s: sending '%s' to %s port %u\n", PROG, rs.g.def.name, rs.host, o.port);
        fflush(stdout);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        mig_sock_host_name(host, sizeof(host));
        mig_source_init(&session, &ops, &rs,
                        &(struct mig_params){.password = o.password, .host = host, .random = rnd, .allow_v1 = o.v1,
                                             .max_version = o.v1 ? STREAM_V1 : 0},
                        mig_sock_out, mig_sock_in);
        struct mig_sock_hooks hooks = {.progress = PROG};
        bool flushed = mig_sock_run(fd, &session, &hooks) == 0;
        rc = report(&session, flushed, seconds_since(&t0));
    }
    guest_image_free(&rs.g);
    return rc;
}
