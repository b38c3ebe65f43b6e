/* The guest's 16550 UART at 0x3f8 (register map per the PC16550D data
 * sheet). Transmit goes to the guest's log ring (and to the host console
 * when attached); receive comes from the host console. Interrupts (data
 * sheet, table 4 "Interrupt Control Functions"): received data and
 * transmitter holding register empty, by IER, identified in IIR by
 * priority, on ISA IRQ 4 while MCR.OUT2 is set (the PC's COM port gates
 * its interrupt line with OUT2). Transmission is instantaneous, so THR is
 * always empty: the THRE interrupt is raised by a write to THR or by
 * enabling it, and cleared by reading IIR while it is the one shown or by
 * writing THR (data sheet, IIR and IER descriptions). No line-status or
 * modem-status events ever happen. */
#include <hopvm/console.h>
#include <hopvm/lib.h>
#include <hopvm/mmio.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

#define GUEST_COM1 0x3f8
#define GUEST_UART_MMIO 0xfeb00000ull
#define UART_REGS 8
enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define LCR_DLAB 0x80
#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IIR_NO_INT 0x01
#define IIR_THRE   0x02
#define IIR_RDA    0x04
#define IIR_FIFO 0xc0
#define IER_RDA    0x01
#define IER_THRE   0x02
#define MCR_OUT2   0x08
#define UART_IRQ   4
#define MCR_LOOP 0x10
#define IER_WRITABLE 0x0f /* the four interrupt enables; bits 7:4 read 0 (PC16550D, IER) */
#define MCR_WRITABLE 0x1f /* DTR RTS OUT1 OUT2 LOOP; bits 7:5 read 0 (PC16550D, MCR) */
#define MSR_IDLE 0xb0 /* CTS, DSR, DCD asserted */

void vm_log_putc(struct vm *vm, char c)
{
    if (!vm->log)
        return;
    vm->log[vm->log_len % VM_LOG_SIZE] = c;
    vm->log_len++;
}

static unsigned rx_count(const struct uart_dev *u) { return u->rx_head - u->rx_tail; }

/* The interrupt the UART shows in IIR: received data before THRE. */
static uint8_t iir_id(const struct uart_dev *u)
{
    if ((u->ier & IER_RDA) && rx_count(u))
        return IIR_RDA;
    if ((u->ier & IER_THRE) && u->thre_pending)
        return IIR_THRE;
    return IIR_NO_INT;
}

static void update_irq(struct vm *vm)
{
    const struct uart_dev *u = &vm->uart;
    irq_line(vm, UART_IRQ, iir_id(u) != IIR_NO_INT && (u->mcr & MCR_OUT2));
}

bool uart_dev_room(const struct vm *vm) { return rx_count(&vm->uart) < sizeof(vm->uart.rx); }

void uart_dev_input(struct vm *vm, uint8_t c)
{
    struct uart_dev *u = &vm->uart;
    if (rx_count(u) < sizeof(u->rx)) {
        u->rx[u->rx_head % sizeof(u->rx)] = c;
        u->rx_head++;
    }
    /* Input is the only event a polling guest (interrupts off) waits for;
     * one with interrupts on is woken by IRQ 4 (vmm/irq.c). */
    for (unsigned i = 0; i < vm->nvcpus; i++)
        if (vm->vcpus[i] && !vm->vcpus[i]->wait_sipi && !(vm->vcpus[i]->rflags & RFLAGS_IF))
            vm->vcpus[i]->halted = false;
    update_irq(vm);
}

static bool uart_io(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    struct vm *vm = v->vm;
    (void)ctx;
    (void)size; /* wider accesses act on the low byte, as on an ISA 16550 */
    struct uart_dev *u = &vm->uart;
    unsigned reg = port - GUEST_COM1;
    bool dlab = u->lcr & LCR_DLAB;
    if (write) {
        uint8_t b = (uint8_t)*val;
        switch (reg) {
        case RBR_THR:
            if (dlab)
                u->dll = b;
            else {
                vm_log_putc(vm, (char)b);
                console_guest_output(vm, (char)b);
                u->thre_pending = true; /* sent at once: THR is empty again */
            }
            break;
        case IER:
            if (dlab)
                u->dlm = b;
            else {
                /* Enabling THRE while THR is empty raises it (Linux's
                 * start-up test for UARTs that do not, UART_BUG_THRE). */
                if ((b & IER_THRE) && !(u->ier & IER_THRE))
                    u->thre_pending = true;
                u->ier = b & IER_WRITABLE;
            }
            break;
        case IIR_FCR: u->fcr = b; break;
        case LCR: u->lcr = b; break;
        case MCR: u->mcr = b & MCR_WRITABLE; break;
        case SCR: u->scr = b; break;
        default: break; /* LSR and MSR are read-only */
        }
        update_irq(vm);
        return true;
    }
    uint8_t r = 0;
    switch (reg) {
    case RBR_THR:
        if (dlab)
            r = u->dll;
        else if (rx_count(u)) {
            r = u->rx[u->rx_tail % sizeof(u->rx)];
            u->rx_tail++;
        }
        break;
    case IER: r = dlab ? u->dlm : u->ier; break;
    case IIR_FCR:
        r = iir_id(u) | ((u->fcr & 1) ? IIR_FIFO : 0);
        if (iir_id(u) == IIR_THRE)
            u->thre_pending = false; /* reading IIR with THRE shown clears it */
        break;
    case LCR: r = u->lcr; break;
    case MCR: r = u->mcr; break;
    case LSR: r = LSR_THRE | LSR_TEMT | (rx_count(u) ? LSR_DR : 0); break;
    case MSR: r = (u->mcr & MCR_LOOP) ? 0 : MSR_IDLE; break;
    case SCR: r = u->scr; break;
    }
    *val = r;
    update_irq(vm);
    return true;
}

/* The same UART as an MMIO 8250 with byte-wide registers, for kernels
 * that drive one (Linux: earlycon=uart8250,mmio,0xfeb00000). */
static void uart_mmio(struct vcpu *v, void *ctx, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    uint32_t r = (uint32_t)*val;
    uart_io(v, ctx, (uint16_t)(GUEST_COM1 + off), size, write, &r);
    if (!write)
        *val = r;
}

void uart_dev_attach(struct vm *vm)
{
    memset(&vm->uart, 0, sizeof(vm->uart));
    io_register(vm, GUEST_COM1, UART_REGS, uart_io, NULL, "uart");
    mmio_register(vm, GUEST_UART_MMIO, UART_REGS, uart_mmio, NULL, "uart-mmio");
}
