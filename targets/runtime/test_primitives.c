/* test_primitives.c - applies one primitive of sastc_numerics.h to operand tuples.
 *
 * Usage: test_primitives OP < operands > results. stdin holds a little-endian
 * uint32 count, then count tuples of int32 operands (arity depends on OP);
 * stdout gets count int32 results. tests/test_c_primitives.py sends sweeps
 * over all int4 and int8 operand pairs and compares with sastc/numerics.py.
 *
 *   round_shift    x shift                     -> round_shift(x, shift)
 *   multiply_shift x m shift                   -> round_shift(x * m, shift)
 *   saturate       x bits                      -> saturate(x, bits)
 *   leak           u beta_q shift              -> leak(u)
 *   integrate      u acc bias beta_q leak_shift frac_bits bits -> u_pre
 *   fire           u_pre theta                 -> u_pre > theta
 *   reset          u_pre spike                 -> spike ? 0 : u_pre
 *   reset_by       u_pre spike theta subtract  -> spike ? (subtract ? u_pre - theta : 0) : u_pre
 */
#include <stdio.h>
#include <string.h>

#include "sastc_numerics.h"

#define MAX_ARITY 7

static int read_i32(int32_t *value)
{
    unsigned char b[4];
    if (fread(b, 1, 4, stdin) != 4)
        return 0;
    *value = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                       (uint32_t)b[3] << 24);
    return 1;
}

static void write_i32(int32_t value)
{
    const uint32_t bits = (uint32_t)value;
    unsigned char b[4];
    b[0] = (unsigned char)bits;
    b[1] = (unsigned char)(bits >> 8);
    b[2] = (unsigned char)(bits >> 16);
    b[3] = (unsigned char)(bits >> 24);
    fwrite(b, 1, 4, stdout);
}

/* Operands per tuple of an operation; 0 if unknown. */
static int arity(const char *op)
{
    static const struct { const char *name; int arity; } table[] = {
        {"round_shift", 2}, {"multiply_shift", 3}, {"saturate", 2}, {"leak", 3},
        {"integrate", 7}, {"fire", 2}, {"reset", 2}, {"reset_by", 4}};
    size_t i;
    for (i = 0; i < sizeof table / sizeof table[0]; ++i)
        if (strcmp(op, table[i].name) == 0)
            return table[i].arity;
    return 0;
}

/* The primitive `op` on one operand tuple a. */
static int32_t apply(const char *op, const int32_t *a)
{
    const uint32_t bits = (uint32_t)a[1];
    if (strcmp(op, "round_shift") == 0)
        return sastc_round_shift(a[0], (uint32_t)a[1]);
    if (strcmp(op, "multiply_shift") == 0)
        return sastc_multiply_shift(a[0], a[1], (uint32_t)a[2]);
    if (strcmp(op, "saturate") == 0)
        return sastc_saturate(a[0], sastc_saturate_low(bits), sastc_saturate_high(bits));
    if (strcmp(op, "leak") == 0)
        return sastc_leak(a[0], a[1], (uint32_t)a[2]);
    if (strcmp(op, "integrate") == 0)
        return sastc_integrate(a[0], a[1], a[2], a[3], (uint32_t)a[4], (uint32_t)a[5],
                               sastc_saturate_low((uint32_t)a[6]),
                               sastc_saturate_high((uint32_t)a[6]));
    if (strcmp(op, "fire") == 0)
        return sastc_fire(a[0], a[1]);
    if (strcmp(op, "reset_by") == 0)
        return sastc_reset_by(a[0], a[1], a[2], (uint32_t)a[3]);
    return sastc_reset_membrane(a[0], a[1]);
}

int main(int argc, char **argv)
{
    int32_t operands[MAX_ARITY], count;
    const int n = argc == 2 ? arity(argv[1]) : 0;
    int32_t t;
    int i;
    if (n == 0 || !read_i32(&count)) {
        fputs("usage: test_primitives OP < operands (see the header comment)\n", stderr);
        return 2;
    }
    for (t = 0; t < count; ++t) {
        for (i = 0; i < n; ++i)
            if (!read_i32(&operands[i]))
                return 1;
        write_i32(apply(argv[1], operands));
    }
    return 0;
}
