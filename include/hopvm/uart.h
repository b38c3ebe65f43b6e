#ifndef HOPVM_UART_H
#define HOPVM_UART_H
#include <stdbool.h>
#include <stdint.h>

#define COM1_PORT 0x3f8

void uart_init(uint16_t base, uint32_t baud);
void uart_putc(char c);
/* Returns the next received byte, or -1 if none is waiting. */
int uart_getc(void);
bool uart_present(void);

#endif
