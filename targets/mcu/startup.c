/* startup.c - start-up code of the emulated Cortex-M firmware (Cortex-M0 and M4).
 *
 * The vector table (initial stack pointer, reset and fault handlers), a reset handler that
 * copies .data from flash, zeroes .bss and calls main, and an exit through semihosting with
 * main's return value (or FAULT_EXIT after a fault). The symbols come from the linker
 * scripts beside this file. */
#include <stdint.h>

#define FAULT_EXIT 3u

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

int main(void);
void semihost_exit(uint32_t code);
void reset_handler(void);
void fault_handler(void);

typedef struct vector_table {
    uint32_t *stack_top;
    void (*handlers[15])(void); /* reset, NMI, hard fault, ..., SysTick */
} vector_table;

__attribute__((section(".vectors"), used)) static const vector_table vectors = {
    __stack_top,
    {reset_handler, fault_handler, fault_handler, fault_handler, fault_handler, fault_handler,
     fault_handler, 0, 0, 0, 0, fault_handler, fault_handler, 0, fault_handler}};

void reset_handler(void)
{
    uint32_t *from = __data_load, *to = __data_start;
    while (to < __data_end)
        *to++ = *from++;
    for (to = __bss_start; to < __bss_end; ++to)
        *to = 0u;
    semihost_exit((uint32_t)main());
}

void fault_handler(void)
{
    semihost_exit(FAULT_EXIT);
}
