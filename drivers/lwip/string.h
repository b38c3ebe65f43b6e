/* What lwIP wants from <string.h>: hopvm's own library (include/hopvm/lib.h),
 * so no host C library header is used in the freestanding core. */
#ifndef HOPVM_LWIP_STRING_H
#define HOPVM_LWIP_STRING_H
#include <hopvm/lib.h>
#endif
