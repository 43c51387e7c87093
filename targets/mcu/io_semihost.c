/* io_semihost.c - firmware I/O on an emulated Cortex-M (QEMU with semihosting).
 *
 * The semihosting command line is "firmware INPUT OUTPUT": two host files, read and written
 * with SYS_READ / SYS_WRITE. The clock is SysTick on the processor clock (SASTC_CPU_HZ, set
 * by the build). Under QEMU's -icount shift=0 every instruction advances the virtual clock
 * by exactly 1 ns, so ticks * 10^9 / SASTC_CPU_HZ is the number of instructions executed. */
#include "firmware_io.h"

#ifndef SASTC_CPU_HZ
#error "define SASTC_CPU_HZ, the processor clock of the machine (SysTick counts it)"
#endif

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_WRITE 0x05u
#define SYS_READ 0x06u
#define SYS_GET_CMDLINE 0x15u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define MODE_READ_BINARY 1u
#define MODE_WRITE_BINARY 5u
#define OUT_BUFFER 512u

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_MASK 0x00FFFFFFu

static int32_t input = -1, output = -1;
static uint8_t out_buffer[OUT_BUFFER];
static uint32_t out_used;

/* One semihosting call: operation in r0, parameter block in r1, result in r0. */
static uint32_t semihost(uint32_t operation, const void *block)
{
    register uint32_t r0 __asm__("r0") = operation;
    register const void *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_exit(uint32_t code);
void semihost_exit(uint32_t code)
{
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

static uint32_t length(const char *text)
{
    uint32_t n = 0;
    while (text[n] != '\0')
        ++n;
    return n;
}

static int32_t open_file(const char *name, uint32_t mode)
{
    const uint32_t block[3] = {(uint32_t)(uintptr_t)name, mode, length(name)};
    return (int32_t)semihost(SYS_OPEN, block);
}

/* The words of the command line: argv[1] and argv[2] are the input and output files. */
static int split_words(char *line, char **words, int most)
{
    int count = 0;
    while (*line != '\0' && count < most) {
        while (*line == ' ')
            *line++ = '\0';
        if (*line != '\0')
            words[count++] = line;
        while (*line != '\0' && *line != ' ')
            ++line;
    }
    return count;
}

int io_begin(void)
{
    static char line[256];
    char *words[3];
    uint32_t block[2];
    block[0] = (uint32_t)(uintptr_t)line;
    block[1] = sizeof line;
    if (semihost(SYS_GET_CMDLINE, block) != 0u || split_words(line, words, 3) != 3)
        return 1;
    input = open_file(words[1], MODE_READ_BINARY);
    output = open_file(words[2], MODE_WRITE_BINARY);
    SYST_RVR = SYST_MASK; /* free-running 24-bit down counter on the processor clock */
    SYST_CVR = 0u;
    SYST_CSR = 5u;        /* enable, processor clock, no interrupt */
    return input < 0 || output < 0;
}

int io_read(void *buffer, uint32_t bytes)
{
    const uint32_t block[3] = {(uint32_t)input, (uint32_t)(uintptr_t)buffer, bytes};
    return bytes == 0u || semihost(SYS_READ, block) == 0u; /* returns the bytes NOT read */
}

static void flush(void)
{
    const uint32_t block[3] = {(uint32_t)output, (uint32_t)(uintptr_t)out_buffer, out_used};
    if (out_used > 0u)
        semihost(SYS_WRITE, block);
    out_used = 0u;
}

void io_write(const void *buffer, uint32_t bytes)
{
    const uint8_t *data = (const uint8_t *)buffer;
    uint32_t i;
    for (i = 0; i < bytes; ++i) {
        if (out_used == OUT_BUFFER)
            flush();
        out_buffer[out_used++] = data[i];
    }
}

void io_end(void)
{
    uint32_t block[1];
    flush();
    block[0] = (uint32_t)output;
    semihost(SYS_CLOSE, block);
    block[0] = (uint32_t)input;
    semihost(SYS_CLOSE, block);
}

uint32_t io_clock(void)
{
    return SYST_CVR;
}

uint32_t io_ticks_since(uint32_t start)
{
    return (start - SYST_CVR) & SYST_MASK; /* it counts down */
}

uint32_t io_clock_hz(void)
{
    return SASTC_CPU_HZ;
}
