/* Files from the boot volume: the configuration and the guest images.
 * UEFI 2.10 13.4 (Simple File System) and 13.5 (File Protocol). */
#include "boot.h"

void boot_note(struct boot_info *bi, const char *msg)
{
    UINTN n = 0, cap = sizeof(bi->boot_error) - 1;
    while (n < cap && bi->boot_error[n])
        n++;
    if (n && n < cap)
        bi->boot_error[n++] = ';';
    while (n < cap && *msg)
        bi->boot_error[n++] = *msg++;
    bi->boot_error[n] = 0;
}

/* Reads a whole open file into fresh pages; returns NULL on failure. */
static UINT8 *read_all(EFI_FILE_HANDLE fh, UINT64 size, UINT64 limit)
{
    EFI_PHYSICAL_ADDRESS addr;
    if (size > limit)
        return NULL;
    UINTN pages = (size + 1 + 4095) / 4096;
    if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, pages, &addr)))
        return NULL;
    UINT8 *buf = (UINT8 *)(UINTN)addr;
    UINTN got = size;
    if (EFI_ERROR(uefi_call_wrapper(fh->Read, 3, fh, &got, buf)) || got != size) {
        uefi_call_wrapper(BS->FreePages, 2, addr, pages);
        return NULL;
    }
    buf[size] = 0; /* configs are text; one extra byte keeps them terminated */
    return buf;
}

static BOOLEAN ascii_name(const CHAR16 *w, char *out, UINTN cap)
{
    UINTN i = 0;
    for (; w[i]; i++) {
        if (i + 1 >= cap || w[i] < 0x21 || w[i] > 0x7e)
            return FALSE;
        out[i] = (char)w[i];
    }
    out[i] = 0;
    return i > 0;
}

static void load_config(EFI_FILE_HANDLE root, struct boot_info *bi)
{
    EFI_FILE_HANDLE fh;
    if (EFI_ERROR(uefi_call_wrapper(root->Open, 5, root, &fh, BOOT_CONFIG_PATH, EFI_FILE_MODE_READ, 0))) {
        Print(L"hopvm-boot: no \\hopvm.cfg on the boot volume; starting with defaults\r\n");
        return;
    }
    EFI_FILE_INFO *info = LibFileInfo(fh);
    if (!info) {
        boot_note(bi, "cannot stat hopvm.cfg");
    } else {
        UINT8 *data = read_all(fh, info->FileSize, BOOT_CONFIG_MAX);
        if (data) {
            bi->config = (const char *)data;
            bi->config_size = info->FileSize;
        } else {
            boot_note(bi, "hopvm.cfg unreadable or over 64 KiB");
        }
        FreePool(info);
    }
    uefi_call_wrapper(fh->Close, 1, fh);
}

/* Every file of a folder on the boot volume; names get `prefix` (the
 * \secrets folder's are "secrets/NAME", so a password file can never be
 * taken for a guest kernel). */
static void load_dir(EFI_FILE_HANDLE root, struct boot_info *bi, CHAR16 *path, const char *prefix)
{
    EFI_FILE_HANDLE dir;
    if (EFI_ERROR(uefi_call_wrapper(root->Open, 5, root, &dir, path, EFI_FILE_MODE_READ, 0)))
        return; /* no such folder: nothing to load */
    UINTN plen = strlena((CHAR8 *)prefix);
    UINT8 ibuf[1024];
    for (;;) {
        UINTN sz = sizeof(ibuf);
        if (EFI_ERROR(uefi_call_wrapper(dir->Read, 3, dir, &sz, ibuf)) || sz == 0)
            break;
        EFI_FILE_INFO *fi = (EFI_FILE_INFO *)ibuf;
        if (fi->Attribute & EFI_FILE_DIRECTORY)
            continue;
        if (bi->file_count >= BOOT_MAX_FILES) {
            boot_note(bi, "too many files in \\guests (max 32)");
            break;
        }
        struct boot_file *bf = &bi->files[bi->file_count];
        CopyMem(bf->name, (void *)prefix, plen);
        if (!ascii_name(fi->FileName, bf->name + plen, sizeof(bf->name) - plen)) {
            boot_note(bi, "skipped a guest file with a non-ASCII or long name");
            continue;
        }
        EFI_FILE_HANDLE fh;
        if (EFI_ERROR(uefi_call_wrapper(dir->Open, 5, dir, &fh, fi->FileName, EFI_FILE_MODE_READ, 0))) {
            boot_note(bi, "cannot open a guest file");
            continue;
        }
        bf->data = read_all(fh, fi->FileSize, ~0ull);
        bf->size = fi->FileSize;
        uefi_call_wrapper(fh->Close, 1, fh);
        if (!bf->data) {
            Print(L"hopvm-boot: cannot read guests\\%s\r\n", fi->FileName);
            boot_note(bi, "a guest file could not be read");
            continue;
        }
        bi->file_count++;
    }
    uefi_call_wrapper(dir->Close, 1, dir);
}

void boot_load_files(EFI_HANDLE image, struct boot_info *bi)
{
    EFI_LOADED_IMAGE *li;
    EFI_GUID lip = LOADED_IMAGE_PROTOCOL;
    if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, image, &lip, (void **)&li))) {
        boot_note(bi, "no LoadedImage protocol");
        return;
    }
    bi->image_base = (UINT64)(UINTN)li->ImageBase;
    bi->image_size = li->ImageSize;
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle);
    if (!root) {
        Print(L"hopvm-boot: cannot open the boot volume\r\n");
        boot_note(bi, "boot volume not readable");
        return;
    }
    load_config(root, bi);
    load_dir(root, bi, BOOT_GUESTS_DIR, "");
    load_dir(root, bi, BOOT_SECRETS_DIR, "secrets/");
    uefi_call_wrapper(root->Close, 1, root);
}
