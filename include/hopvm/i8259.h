/* The 8259A programmable interrupt controller pair of the PC/AT (Intel
 * 8259A datasheet, order no. 231468: initialization ICW1-4, operation
 * OCW1-3, fully nested mode, specific/non-specific/automatic EOI, rotation,
 * special mask, poll command, cascade on master IR2) and the EISA/PIIX
 * edge/level control registers (ELCR, ports 0x4d0/0x4d1), as a pure model.
 * vmm/dev/pic.c puts it at 0x20/0x21, 0xa0/0xa1 and 0x4d0/0x4d1; its INT
 * output reaches the vCPU through LINT0 in ExtINT mode. Unit-tested on
 * Linux (tests/unit/test_i8259.c); the struct is all a teleport carries. */
#ifndef HOPVM_I8259_H
#define HOPVM_I8259_H
#include <stdbool.h>
#include <stdint.h>

#define I8259_MASTER_CMD 0x20
#define I8259_MASTER_DATA 0x21
#define I8259_SLAVE_CMD  0xa0
#define I8259_SLAVE_DATA 0xa1
#define I8259_ELCR       0x4d0 /* 0x4d0 master, 0x4d1 slave */
#define I8259_CASCADE_IRQ 2

struct i8259 {
    uint8_t irr, isr, imr;
    uint8_t last_level;   /* the inputs' levels, for edge detection */
    uint8_t elcr;         /* 1 bits: level-triggered */
    uint8_t vector_base;  /* ICW2 & 0xf8 */
    uint8_t init_step;    /* 0: operating; 2..4: the ICW expected next */
    uint8_t icw1, icw4;
    uint8_t priority_add; /* the lowest-priority IR + 1 (rotation) */
    bool read_isr;        /* OCW3 RR/RIS: reads of the command port give ISR */
    bool poll;            /* OCW3 P: the next read is a poll */
    bool special_mask;
    bool auto_eoi;
    bool rotate_on_aeoi;
    bool special_fully_nested;
};

struct i8259_pair {
    struct i8259 chip[2]; /* master, slave */
};

/* Power-on: the datasheet leaves the chips undefined until ICW1; this
 * is the state a PC BIOS hands over: initialized, IMR = 0, vector bases
 * 0x08 and 0x70, edge-triggered, cascade on IR2, ELCR 0. */
void i8259_reset(struct i8259_pair *p);
/* port: 0x20, 0x21, 0xa0, 0xa1, 0x4d0 or 0x4d1. */
void i8259_write(struct i8259_pair *p, uint16_t port, uint8_t val);
uint8_t i8259_read(struct i8259_pair *p, uint16_t port);
/* An ISA line (0..15) changed level (true = asserted). Edge lines latch a
 * request on the rising edge; level lines (ELCR) request while high. */
void i8259_set_irq(struct i8259_pair *p, unsigned irq, bool level);
/* The master's INT output: an unmasked request above what is in service. */
bool i8259_int(const struct i8259_pair *p);
/* INTA: the vector the CPU gets (IRR -> ISR, or the spurious IR7 of the
 * chip that had nothing). Call only when i8259_int() said so; otherwise
 * it still answers the master's spurious vector, as the hardware does. */
uint8_t i8259_ack(struct i8259_pair *p);

#endif
