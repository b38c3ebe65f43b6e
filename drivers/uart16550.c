/* 16550 UART driver for the host console (COM1). Polled: the console loop
 * reads the receive register whenever it wakes (every timer tick or sooner),
 * and transmit waits for the holding register to empty. Register map per the
 * PC16550D datasheet. */
#include <hopvm/uart.h>
#include <hopvm/x86.h>

enum {
    UART_RBR = 0, UART_THR = 0, UART_DLL = 0,
    UART_IER = 1, UART_DLM = 1,
    UART_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_SCR = 7,
};
#define LCR_8N1     0x03
#define LCR_DLAB    0x80
#define FCR_ENABLE  0x07 /* enable + clear both FIFOs */
#define MCR_DTR_RTS_OUT2 0x0b
#define LSR_DR      0x01 /* data ready */
#define LSR_THRE    0x20 /* transmit holding register empty */
#define UART_CLOCK  115200

static uint16_t base_port;
static bool present;

void uart_init(uint16_t base, uint32_t baud)
{
    base_port = base;
    /* Scratch register round trip tells whether a UART answers at all. */
    outb(base + UART_SCR, 0x5a);
    present = inb(base + UART_SCR) == 0x5a;
    uint16_t div = (uint16_t)(UART_CLOCK / (baud ? baud : UART_CLOCK));
    outb(base + UART_IER, 0x00);
    outb(base + UART_LCR, LCR_DLAB);
    outb(base + UART_DLL, (uint8_t)div);
    outb(base + UART_DLM, (uint8_t)(div >> 8));
    outb(base + UART_LCR, LCR_8N1);
    outb(base + UART_FCR, FCR_ENABLE);
    outb(base + UART_MCR, MCR_DTR_RTS_OUT2);
}

bool uart_present(void) { return present; }

void uart_putc(char c)
{
    if (!base_port)
        return;
    /* Bounded wait: a UART that never drains must not hang the host. */
    for (int i = 0; i < 1000000 && !(inb(base_port + UART_LSR) & LSR_THRE); i++)
        __asm__ volatile("pause");
    outb(base_port + UART_THR, (uint8_t)c);
}

int uart_getc(void)
{
    if (!base_port || !(inb(base_port + UART_LSR) & LSR_DR))
        return -1;
    return inb(base_port + UART_RBR);
}
