/* Shared inside vmm/svm/ only. */
#ifndef HOPVM_SVM_INTERNAL_H
#define HOPVM_SVM_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

uint64_t *npt_build(uint64_t hpa, uint64_t size, uint64_t *large_pages, uint64_t *small_pages);
void npt_destroy(uint64_t *pml4);
void svm_vmrun(uint64_t vmcb_pa, uint64_t *gpr, uint64_t host_save_pa);

#endif
