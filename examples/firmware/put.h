/* put.h - text output for the firmware examples without printf: putchar only, so a board
 * that routes putchar to its UART needs nothing else. */
#ifndef EXAMPLES_PUT_H
#define EXAMPLES_PUT_H

#include <stdint.h>
#include <stdio.h>

static inline void put_text(const char *text)
{
    for (; *text != '\0'; ++text)
        putchar(*text);
}

/* Decimal digits of value, without printf. */
static inline void put_number(uint32_t value)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    while (n > 0)
        putchar(digits[--n]);
}

#endif
