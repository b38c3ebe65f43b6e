/* UEFI entry: gather what the core needs, leave boot services, hand over.
 * Debian's gnu-efi crt0 calls efi_main with the SysV convention and applies
 * the ELF relocations first; firmware is called through uefi_call_wrapper. */
#include "boot.h"

static struct boot_info bi; /* in the image: LoaderData, never reused */

static UINT64 find_rsdp(EFI_SYSTEM_TABLE *st)
{
    /* UEFI 2.10 4.6: the configuration table carries the RSDP; prefer ACPI 2.0+. */
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID, acpi10 = ACPI_TABLE_GUID;
    UINT64 v1 = 0;
    for (UINTN i = 0; i < st->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &st->ConfigurationTable[i];
        if (!CompareGuid(&t->VendorGuid, &acpi20))
            return (UINT64)(UINTN)t->VendorTable;
        if (!CompareGuid(&t->VendorGuid, &acpi10))
            v1 = (UINT64)(UINTN)t->VendorTable;
    }
    return v1;
}

static UINT32 classify(UINT32 efi_type, UINT64 attr)
{
    switch (efi_type) {
    case EfiReservedMemoryType:
        /* Firmware lists device windows such as PCIe ECAM as reserved;
         * only write-back-capable ranges are RAM (UEFI 2.10 7.2.3 table 7-6). */
        return (attr & EFI_MEMORY_WB) ? BOOT_MEM_RESERVED : BOOT_MEM_MMIO;
    case EfiConventionalMemory:
    case EfiBootServicesCode:
    case EfiBootServicesData:
        return BOOT_MEM_USABLE;
    case EfiLoaderCode:
    case EfiLoaderData:
        return BOOT_MEM_HOPVM;
    case EfiACPIReclaimMemory:
        return BOOT_MEM_ACPI_RECLAIM;
    case EfiACPIMemoryNVS:
        return BOOT_MEM_ACPI_NVS;
    case EfiMemoryMappedIO:
    case EfiMemoryMappedIOPortSpace:
        return BOOT_MEM_MMIO;
    case 14: /* EfiPersistentMemory (UEFI 2.5+) */
        return BOOT_MEM_PERSISTENT;
    default:
        return BOOT_MEM_RESERVED;
    }
}

/* Runs after ExitBootServices: no UEFI calls, no allocation. Adjacent
 * ranges of the same kind are merged to keep the table small. */
static void convert_map(const UINT8 *map, UINTN size, UINTN dsize)
{
    bi.mem_count = 0;
    for (UINTN off = 0; off + dsize <= size; off += dsize) {
        const EFI_MEMORY_DESCRIPTOR *d = (const EFI_MEMORY_DESCRIPTOR *)(map + off);
        UINT32 type = classify(d->Type, d->Attribute);
        if (bi.mem_count) {
            struct boot_mem_range *last = &bi.mem[bi.mem_count - 1];
            if (last->type == type && last->base + last->pages * 4096 == d->PhysicalStart) {
                last->pages += d->NumberOfPages;
                continue;
            }
        }
        if (bi.mem_count == BOOT_MAX_MEM)
            break; /* the core reports a truncated map via mem_count == max */
        struct boot_mem_range *r = &bi.mem[bi.mem_count++];
        r->base = d->PhysicalStart;
        r->pages = d->NumberOfPages;
        r->type = type;
        r->efi_type = d->Type;
    }
}

static inline UINT64 tsc(void)
{
    UINT32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((UINT64)hi << 32) | lo;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    InitializeLib(image, st);
    Print(L"hopvm-boot: UEFI entry\r\n");
    bi.magic = BOOT_INFO_MAGIC;
    bi.version = BOOT_INFO_VERSION;
    /* The firmware watchdog would reset us after 5 minutes in boot services. */
    uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);

    bi.rsdp = find_rsdp(st);
    if (!bi.rsdp)
        Print(L"hopvm-boot: warning: no ACPI RSDP in the configuration table\r\n");
    boot_load_files(image, &bi);
    Print(L"hopvm-boot: config %s, %d guest file(s), RSDP at 0x%lx\r\n",
          bi.config ? L"loaded" : L"absent", bi.file_count, bi.rsdp);

    /* UEFI 2.10 7.4 ExitBootServices: the map key must be current. Allocate
     * the buffer once with slack, because after a failed ExitBootServices
     * only GetMemoryMap may be called before retrying. */
    UINTN msize = 0, key, dsize;
    UINT32 dver;
    uefi_call_wrapper(BS->GetMemoryMap, 5, &msize, NULL, &key, &dsize, &dver);
    UINTN cap = msize + 64 * dsize;
    UINT8 *map = NULL;
    if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, cap, (void **)&map))) {
        Print(L"hopvm-boot: fatal: cannot allocate the memory map buffer\r\n");
        return EFI_OUT_OF_RESOURCES;
    }
    EFI_STATUS s = EFI_SUCCESS;
    for (bi.ebs_tries = 1; bi.ebs_tries <= 8; bi.ebs_tries++) {
        msize = cap;
        s = uefi_call_wrapper(BS->GetMemoryMap, 5, &msize, (EFI_MEMORY_DESCRIPTOR *)map, &key, &dsize, &dver);
        if (EFI_ERROR(s))
            break;
        s = uefi_call_wrapper(BS->ExitBootServices, 2, image, key);
        if (s != EFI_INVALID_PARAMETER)
            break; /* success, or an error a retry cannot fix */
    }
    if (EFI_ERROR(s)) {
        /* Still in boot services only if the first attempt failed; printing
         * may not work, but there is nothing better to do. */
        Print(L"hopvm-boot: fatal: ExitBootServices failed: %r\r\n", s);
        return s;
    }
    bi.tsc_at_exit = tsc();
    convert_map(map, msize, dsize);
    vmm_main(&bi);
}
