/* Power-off (ACPI S5) and reset. */
#include <hopvm/acpi.h>
#include <hopvm/lib.h>
#include <hopvm/x86.h>

#define PM1_SCI_EN     (1u << 0)  /* ACPI 6.5 4.8.3.2.1 */
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_EN     (1u << 13)
#define PORT_CF9       0xcf9      /* PCH/PIIX reset control register */
#define CF9_FULL_RESET 0x0e
#define PORT_KBC_CMD   0x64
#define KBC_PULSE_RESET 0xfe

static void delay_spin(uint32_t n)
{
    for (volatile uint32_t i = 0; i < n; i++)
        pause();
}

const char *acpi_poweroff(void)
{
    const struct acpi_info *a = acpi();
    if (!a->present)
        return "no ACPI tables";
    if (a->hw_reduced)
        return "hardware-reduced ACPI (sleep registers) is not supported";
    if (!a->s5_valid)
        return "the DSDT has no \\_S5 package";
    if (!a->pm1a_cnt)
        return "the FADT has no PM1a control block";
    /* ACPI 6.5 16.3.1: firmware may leave the machine in legacy mode;
     * the OS switches to ACPI mode through SMI_CMD. */
    if (!(inw(a->pm1a_cnt) & PM1_SCI_EN) && a->smi_cmd && a->acpi_enable) {
        outb(a->smi_cmd, a->acpi_enable);
        for (int i = 0; i < 1000 && !(inw(a->pm1a_cnt) & PM1_SCI_EN); i++)
            delay_spin(10000);
    }
    cli();
    uint16_t v = inw(a->pm1a_cnt) & ~(7u << PM1_SLP_TYP_SHIFT);
    outw(a->pm1a_cnt, v | (uint16_t)(a->slp_typa << PM1_SLP_TYP_SHIFT) | PM1_SLP_EN);
    if (a->pm1b_cnt) {
        uint16_t w = inw(a->pm1b_cnt) & ~(7u << PM1_SLP_TYP_SHIFT);
        outw(a->pm1b_cnt, w | (uint16_t)(a->slp_typb << PM1_SLP_TYP_SHIFT) | PM1_SLP_EN);
    }
    delay_spin(100000000);
    sti();
    return "the machine did not power off after SLP_EN";
}

void acpi_reset(void)
{
    const struct acpi_info *a = acpi();
    cli();
    if (a->reset_valid) {
        /* ACPI 6.5 4.8.3.6: the reset register is in I/O or memory space. */
        if (a->reset_space == 1)
            outb((uint16_t)a->reset_addr, a->reset_value);
        else if (a->reset_space == 0)
            *(volatile uint8_t *)(uintptr_t)a->reset_addr = a->reset_value;
        delay_spin(10000000);
    }
    outb(PORT_CF9, CF9_FULL_RESET);
    delay_spin(10000000);
    outb(PORT_KBC_CMD, KBC_PULSE_RESET);
    delay_spin(10000000);
    sti();
}
