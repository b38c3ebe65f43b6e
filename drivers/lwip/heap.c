/* lwIP's heap (MEM_LIBC_MALLOC in lwipopts.h), replacing mem.c's first-fit
 * heap, whose walk over every block took 8-25 % of a bulk sender's time
 * with hundreds of TCP segments queued (RIP sampling under QEMU TCG).
 * Blocks of 64 B to 128 KiB in power-of-two classes, each with a 16-byte
 * header naming its class, carved from one arena of MEM_SIZE bytes and,
 * once freed, kept on their class's free list: malloc and free are O(1).
 * When the arena is used up, a free block of a larger class serves. */
#include <hopvm/lib.h>
#include <stdbool.h>
#include "lwipopts.h"

#define HEAP_MIN_SHIFT 6
#define HEAP_CLASSES   12
#define HEAP_HDR       16
static uint8_t *arena_next, *arena_end;
static void *heap_free[HEAP_CLASSES];

void *lwip_port_malloc(size_t size)
{
    size_t need = size + HEAP_HDR;
    unsigned c = need <= (1u << HEAP_MIN_SHIFT) ? 0 : 64 - __builtin_clzll(need - 1) - HEAP_MIN_SHIFT;
    if (c >= HEAP_CLASSES)
        return NULL;
    uint8_t *b = heap_free[c];
    if (b) {
        heap_free[c] = *(void **)b;
    } else if ((size_t)(arena_end - arena_next) >= (size_t)1 << (c + HEAP_MIN_SHIFT)) {
        b = arena_next;
        arena_next += (size_t)1 << (c + HEAP_MIN_SHIFT);
    } else {
        while (++c < HEAP_CLASSES && !heap_free[c])
            ;
        if (c == HEAP_CLASSES)
            return NULL;
        b = heap_free[c];
        heap_free[c] = *(void **)b;
    }
    *(uint64_t *)b = c;
    return b + HEAP_HDR;
}

void lwip_port_free(void *p)
{
    uint8_t *b = (uint8_t *)p - HEAP_HDR;
    unsigned c = (unsigned)*(uint64_t *)b;
    *(void **)b = heap_free[c];
    heap_free[c] = b;
}

void *lwip_port_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = lwip_port_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void lwip_port_heap(uint8_t *arena, size_t size)
{
    arena_next = arena;
    arena_end = arena + size;
}
