/* Internal interface of the UEFI entry (boot/ only). */
#ifndef HOPVM_BOOT_H
#define HOPVM_BOOT_H
#include <efi.h>
#include <efilib.h>
#include <hopvm/boot_info.h>

#define BOOT_CONFIG_PATH L"\\hopvm.cfg"
#define BOOT_GUESTS_DIR  L"\\guests"
#define BOOT_SECRETS_DIR L"\\secrets" /* teleport password files */
#define BOOT_CONFIG_MAX  (64 * 1024)

/* Reads \hopvm.cfg and every file in \guests\ from the volume hopvm.efi was
 * loaded from into EfiLoaderData memory, recording them in bi. Problems are
 * printed and noted in bi->boot_error; the boot continues without the file. */
void boot_load_files(EFI_HANDLE image, struct boot_info *bi);

/* Appends a note to bi->boot_error (truncates). */
void boot_note(struct boot_info *bi, const char *msg);

#endif
