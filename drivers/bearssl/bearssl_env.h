/* Force-included before every BearSSL source file (-include, see
 * BEARSSL_CFLAGS in mk/deps.mk). BearSSL's src/inner.h includes <string.h>,
 * which in the core resolves to drivers/lwip/string.h and so to hopvm/lib.h,
 * whose MIN/MAX macros break inner.h's own static inline functions MIN() and
 * MAX(). Including hopvm/lib.h here first and dropping the two macros lets
 * the later includes hit its include guard. Serves the core and, with
 * HOPVM_HOSTED, the host build (there <string.h> is the C library's). BearSSL
 * calls only memcpy and memset, both declared by hopvm/lib.h. */
#ifndef HOPVM_BEARSSL_ENV_H
#define HOPVM_BEARSSL_ENV_H
#include <hopvm/lib.h>
#undef MIN
#undef MAX
#endif
