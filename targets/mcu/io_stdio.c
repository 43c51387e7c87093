/* io_stdio.c - firmware I/O on a host: stdin and stdout, no clock. */
#include <stdio.h>

#include "firmware_io.h"

int io_begin(void)
{
    return 0;
}

int io_read(void *buffer, uint32_t bytes)
{
    return fread(buffer, 1, bytes, stdin) == bytes;
}

void io_write(const void *buffer, uint32_t bytes)
{
    fwrite(buffer, 1, bytes, stdout);
}

void io_end(void)
{
    fflush(stdout);
}

uint32_t io_clock(void)
{
    return 0u;
}

uint32_t io_ticks_since(uint32_t start)
{
    (void)start;
    return 0u;
}

uint32_t io_clock_hz(void)
{
    return 0u;
}
