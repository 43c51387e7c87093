/* startup.c - start-up code of the emulated Cortex-M firmware (Cortex-M0 and M4).
 *
 * The vector table (initial stack pointer, reset and fault handlers), a reset handler that
 * copies .data from flash, zeroes .bss and calls main, and an exit through semihosting with
 * main's return value (or FAULT_EXIT after a fault, STACK_EXIT after a stack overflow). The
 * symbols come from the linker scripts beside this file. */
#include <stdint.h>

#define FAULT_EXIT 3u
#define STACK_EXIT 4u

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[], __stack_bottom[];

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

/* A fault: exit with STACK_EXIT if the stack pointer had reached the bottom of the stack
 * (the linker script puts the stack first in RAM, so an overflow runs below RAM, where it
 * faults or loses its writes, instead of overwriting data), else FAULT_EXIT. Runs on a
 * fresh stack: the faulting one may be exhausted. */
void fault_exit(uint32_t sp);
void fault_exit(uint32_t sp)
{
    semihost_exit(sp < (uint32_t)(uintptr_t)__stack_bottom + 64u ? STACK_EXIT : FAULT_EXIT);
}

__attribute__((naked)) void fault_handler(void)
{
    __asm__ volatile("mov r0, sp\n\t"
                     "ldr r1, =__stack_top\n\t"
                     "mov sp, r1\n\t"
                     "bl fault_exit");
}
