/* libFuzzer: kernel loading (ELF64, ELF32 + multiboot, a.out kludge, Linux
 * bzImage with its zero page and initrd) into a small guest RAM. Seeds:
 * two test guests and a synthetic bzImage (test_bzimage --write-seed). The loader must refuse or load, never touch memory
 * outside the file or the guest RAM buffer. */
#include <hopvm/lib.h>
#include <hopvm/loader.h>
#include <stdlib.h>

#define RAM (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram;
    if (!ram)
        ram = malloc(RAM);
    uint8_t *f = malloc(size ? size : 1);
    memcpy(f, data, size);
    struct guest_ram gr = {ram, RAM};
    struct load_req req = {.kernel = {"k", f, size, ""}, .cmdline = "fuzz",
                           .mods = {{"m", f, size < 4096 ? size : 4096, "x"}}, .nmods = 1};
    if (size & 1) { /* odd sizes: as a Linux kernel is configured, an initrd and no modules */
        req.nmods = 0;
        req.initrd = (struct load_file){"initrd", f, size < 4096 ? size : 4096, ""};
    }
    struct load_result r;
    char err[160];
    if (loader_load(&gr, &req, &r, err, sizeof(err)) == 0 && (r.entry >= RAM || r.image_end > RAM))
        abort();
    free(f);
    return 0;
}
