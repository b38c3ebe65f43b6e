/* Shared inside vmm/svm/ only. */
#ifndef HOPVM_SVM_INTERNAL_H
#define HOPVM_SVM_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

void svm_vmrun(uint64_t vmcb_pa, uint64_t *gpr, uint64_t host_save_pa);

#endif
