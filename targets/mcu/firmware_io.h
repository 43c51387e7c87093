/* firmware_io.h - what the test-vector firmware (firmware.c) needs from its platform:
 * io_stdio.c (a host program: stdin/stdout, no clock) or io_semihost.c (an emulated
 * Cortex-M: files through semihosting, SysTick as the clock). */
#ifndef FIRMWARE_IO_H
#define FIRMWARE_IO_H

#include <stdint.h>

/* Open the input and output; 0 on success. */
int io_begin(void);

/* Read exactly `bytes` bytes; 1 on success, 0 at the end of the input. */
int io_read(void *buffer, uint32_t bytes);

/* Write `bytes` bytes (buffered until io_end). */
void io_write(const void *buffer, uint32_t bytes);

/* Flush and close the output. */
void io_end(void);

/* A free-running tick counter and the ticks since `start` (0 on the host). */
uint32_t io_clock(void);
uint32_t io_ticks_since(uint32_t start);

/* Ticks per second of io_clock (0: no clock). */
uint32_t io_clock_hz(void);

#endif /* FIRMWARE_IO_H */
