/* BAR decoding. */
#include "check.h"
#include <hopvm/pci.h>

int main(void)
{
    struct pci_bar b;
    /* 32-bit memory BAR of 128 KiB at 0xfebc0000 (e1000 BAR0 in QEMU). */
    pci_bar_decode(0xfebc0000u, 0xfffe0000u, 0, 0, &b);
    CHECK(b.kind == BAR_MEM32 && b.base == 0xfebc0000u && b.size == 0x20000 && !b.prefetch);
    /* I/O BAR of 64 ports at 0xc000. */
    pci_bar_decode(0xc001u, 0xffffffc1u, 0, 0, &b);
    CHECK(b.kind == BAR_IO && b.base == 0xc000 && b.size == 64);
    /* I/O BAR whose upper 16 bits read back as zero (allowed). */
    pci_bar_decode(0xc001u, 0x0000ffc1u, 0, 0, &b);
    CHECK(b.kind == BAR_IO && b.size == 64);
    /* 64-bit prefetchable BAR of 16 KiB above 4 GiB (virtio-net BAR4). */
    pci_bar_decode(0x0000000cu, 0xffffc00cu, 0x8u, 0xffffffffu, &b);
    CHECK(b.kind == BAR_MEM64 && b.prefetch && b.base == 0x800000000ull && b.size == 0x4000);
    /* 64-bit BAR larger than 4 GiB. */
    pci_bar_decode(0x4u, 0x4u, 0x0u, 0xfffffffeu, &b);
    CHECK(b.kind == BAR_MEM64 && b.size == 0x200000000ull);
    /* Unimplemented BAR. */
    pci_bar_decode(0, 0, 0, 0, &b);
    CHECK(b.kind == BAR_NONE);
    /* Garbage: a memory BAR with no writable address bits. */
    pci_bar_decode(0x8u, 0x8u, 0, 0, &b);
    CHECK(b.kind == BAR_NONE);
    return check_report("test_pci");
}
