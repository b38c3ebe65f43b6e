/* hopvm-save: take a running guest off a hopvm and keep it in a file, like
 * VirtualBox's "save state". It listens like `teleport listen` and is the
 * target of one teleport (hopvm's own session code, migrate/target.c),
 * keeping the guest in memory; when END checks out the guest is written to
 * FILE (docs/migration-protocol.md, the saved-file format), and only then
 * may COMMIT_READY reach the source, which retires its guest for good.
 *   hopvm-save [--port P] [--password X | --password-file F] FILE
 * On the hopvm:  teleport NAME --host THIS-HOST [--port P] [--password X]
 * Exit status 0 if the guest is in FILE and the source handed it over. */
#define _DEFAULT_SOURCE
#include "guest_image.h"
#include "mig_sock.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG     "hopvm-save"
#define ERR_MAX  256
#define PEER_MAX 64
#define EXIT_USAGE 2

struct saver {
    struct guest_image g;
    const char *path;
    struct guest_file_info info;
    bool saved;
    const char *password; /* the teleport's: the file is sealed with it */
    char err[ERR_MAX];
};

static struct saver sv;
static struct mig_session session;

/* ---- the guest, as the target session sees it --------------------------- */

static int offer(void *ctx, const struct mig_vmdef *d, char *reason, size_t n)
{
    struct saver *v = ctx;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t have = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    if (have && d->memory > have) {
        snprintf(reason, n, "this host has %llu MiB of RAM, guest '%s' needs %llu MiB",
                 (unsigned long long)(have >> 20), d->name, (unsigned long long)(d->memory >> 20));
        return -1;
    }
    if (guest_image_alloc(&v->g, d, reason, n) != 0)
        return -1;
    printf("%s: receiving '%s' (%llu MiB, %u vCPU) from %s\n", PROG, d->name,
           (unsigned long long)(d->memory >> 20), d->vcpus, d->source_host);
    fflush(stdout);
    return 0;
}

static uint8_t *page(void *ctx, uint64_t gfn) { return ((struct saver *)ctx)->g.ram + gfn * RAM_PAGE_SIZE; }

/* The session has checked the index against the definition. */
static int vcpu(void *ctx, const struct mig_vcpu *v, char *err, size_t n)
{
    (void)err, (void)n;
    ((struct saver *)ctx)->g.vcpu[v->index] = *v;
    return 0;
}

static int uart(void *ctx, const struct mig_uart *u, char *err, size_t n)
{
    (void)err, (void)n;
    ((struct saver *)ctx)->g.uart = *u;
    return 0;
}

/* Another of the platform's devices: kept as it came, for hopvm-restore to
 * send on in the same order. */
static int device(void *ctx, const struct mig_dev *d, char *err, size_t n)
{
    return guest_image_add_device(&((struct saver *)ctx)->g, d, err, n);
}

/* The copy is complete: it goes to disk before COMMIT_READY may exist, so
 * the source retires its guest only once the file holds it. If the file
 * cannot be written the teleport fails and the source keeps its guest. */
static int ready(void *ctx, char *err, size_t n)
{
    struct saver *v = ctx;
    if (guest_image_save(&v->g, v->path, v->password, &v->info, v->err, sizeof(v->err)) == 0) {
        v->saved = true;
        return 0;
    }
    snprintf(err, n, "the target cannot save the guest: %s", v->err);
    return -1;
}

static void commit(void *ctx) { (void)ctx; /* the file was written before COMMIT_READY */ }
static void abort_(void *ctx, bool in_doubt) { (void)ctx, (void)in_doubt; /* freed at exit */ }

static const struct mig_target_ops ops = {.offer = offer, .page = page, .vcpu = vcpu, .uart = uart,
                                         .device = device, .ready = ready, .commit = commit, .abort = abort_};

/* ---- the program -------------------------------------------------------- */

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int report(const struct mig_session *s, double secs)
{
    const char *name = s->def.name[0] ? s->def.name : "the guest";
    if (sv.saved && s->phase == MIG_DONE) {
        printf("%s: saved '%s' (%llu MiB, %llu zero pages) to %s in %.2f s, %s\n", PROG, name,
               (unsigned long long)(s->def.memory >> 20), (unsigned long long)sv.info.zero_pages, sv.path, secs,
               sv.password[0] ? "sealed with the password" : "NOT sealed (no password: anyone who reads the file reads "
               "the guest's memory)");
        return 0;
    }
    if (sv.saved) {
        fprintf(stderr, "%s: the link failed after '%s' was saved to %s (%s). If the source's console says "
                "'handed over', the guest lives only in %s: restore it with hopvm-restore; otherwise it still "
                "runs there\n", PROG, name, sv.path, s->error, sv.path);
        return 1;
    }
    fprintf(stderr, "%s: failed: %s%s; nothing was saved\n", PROG, s->error_from_peer ? "the peer says: " : "",
            s->error[0] ? s->error : "the session ended early");
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: %s [--port P] [--password X | --password-file F] [--v1] FILE\n", PROG);
}

int main(int argc, char **argv)
{
    struct mig_sock_opts o;
    char err[ERR_MAX], peer[PEER_MAX], host[HELLO_HOST_MAX + 1];
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
        } else if (sv.path) {
            fprintf(stderr, "%s: one FILE only ('%s' and '%s')\n", PROG, sv.path, argv[i]);
            return EXIT_USAGE;
        }
        sv.path = argv[i];
    }
    if (!sv.path) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (guest_image_check_writable(sv.path, err, sizeof(err)) != 0 || mig_sock_random(rnd, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return 1;
    }
    mig_sock_catch_signals();
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit fails the write (and the teleport) instead of killing us */
    int ls = mig_sock_listen(o.port, err, sizeof(err));
    if (ls < 0) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return 1;
    }
    printf("%s: waiting for a guest on TCP port %u%s (Ctrl-C stops)\n", PROG, o.port,
           o.password[0] ? ", password required" : "");
    fflush(stdout);
    int fd = mig_sock_accept(ls, peer, sizeof(peer), err, sizeof(err));
    close(ls); /* one guest per file */
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return 1;
    }
    printf("%s: connection from %s\n", PROG, peer);
    fflush(stdout);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mig_sock_host_name(host, sizeof(host));
    sv.password = o.password;
    mig_target_init(&session, &ops, &sv,
                    &(struct mig_params){.password = o.password, .host = host, .random = rnd, .allow_v1 = o.v1},
                    mig_sock_out, mig_sock_in);
    struct mig_sock_hooks hooks = {.ctx = &sv, .progress = PROG};
    mig_sock_run(fd, &session, &hooks);
    int rc = report(&session, seconds_since(&t0));
    guest_image_free(&sv.g);
    return rc;
}
