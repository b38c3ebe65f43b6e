/* Picks the hardware backend for this CPU and turns it on. */
#include <hopvm/cpuinfo.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>

static const struct hv_backend *active;
static char why[160] = "not initialised";

void hv_init(void)
{
    const struct cpu_info *c = cpuinfo();
    const struct hv_backend *b = NULL;
    if (c->svm)
        b = &svm_backend;
    else if (c->vmx)
        b = &vmx_backend;
    else {
        ksnprintf(why, sizeof(why), "the CPU has neither AMD-V nor VT-x");
        kprintf("hv: %s; guests cannot run\n", why);
        return;
    }
    if (b->cpu_enable(why, sizeof(why)) != 0) {
        kprintf("hv: %s: %s; guests cannot run\n", b->name, why);
        return;
    }
    active = b;
    kprintf("hv: %s enabled\n", b->name);
}

const struct hv_backend *hv(void) { return active; }
const char *hv_error(void) { return why; }
