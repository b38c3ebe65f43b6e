/* The XSAVE feature set as hopvm uses it for guests (Intel SDM Vol.1
 * chapter 13; AMD APM Vol.2 11.5): the XCR0 components a guest may enable
 * and the standard-format XSAVE area they live in. Pure constants, shared
 * by the VM core (vmm/fpu.c), the stream codec and the tests. */
#ifndef HOPVM_XSTATE_H
#define HOPVM_XSTATE_H

/* XCR0 components (SDM Vol.1 13.1). */
#define XCR0_X87 (1ull << 0)
#define XCR0_SSE (1ull << 1)
#define XCR0_AVX (1ull << 2) /* the upper halves of YMM0-15 */
/* What hopvm switches and offers at most. AVX-512, PKRU, AMX and the
 * supervisor components are left out: each needs its own state handling
 * and CPUID care, and no CPU the suite runs on needs them for a guest. */
#define XCR0_GUEST_MAX (XCR0_X87 | XCR0_SSE | XCR0_AVX)
/* XCR0 after reset (SDM Vol.1 13.3): x87 only. */
#define XCR0_RESET XCR0_X87

/* The standard (non-compacted) format (SDM Vol.1 13.4): the FXSAVE-shaped
 * legacy region, the 64-byte header whose first 8 bytes are XSTATE_BV,
 * then AVX at the offset CPUID.(EAX=0DH,ECX=2).EBX gives (576 on every
 * CPU that has it; hopvm checks at start-up). */
#define XSAVE_LEGACY_SIZE 512
#define XSAVE_HEADER_OFF  512
#define XSAVE_HEADER_SIZE 64
#define XSAVE_AVX_OFF     576
#define XSAVE_AVX_SIZE    256
#define XSAVE_AREA_SIZE   1024 /* >= 832, the size for x87|SSE|AVX */
#define FXSAVE_MXCSR_OFF  24

#endif
