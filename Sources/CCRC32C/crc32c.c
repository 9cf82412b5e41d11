#include "CCRC32C.h"
#include <string.h>

static uint32_t table[8][256];
static int table_ready = 0;

static void make_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int s = 1; s < 8; s++) table[s][i] = (table[s - 1][i] >> 8) ^ table[0][table[s - 1][i] & 0xFF];
    table_ready = 1;
}

static uint32_t crc_table(uint32_t crc, const uint8_t *p, size_t n) {
    if (!table_ready) make_table();   /* made before main; only reached before it */
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v ^= crc;
        crc = table[7][v & 0xFF] ^ table[6][(v >> 8) & 0xFF] ^ table[5][(v >> 16) & 0xFF] ^ table[4][(v >> 24) & 0xFF]
            ^ table[3][(v >> 32) & 0xFF] ^ table[2][(v >> 40) & 0xFF] ^ table[1][(v >> 48) & 0xFF] ^ table[0][v >> 56];
        p += 8; n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xFF];
    return crc;
}

static uint32_t shift_operator(size_t n);
#if defined(__x86_64__)
enum { block = 8192 };
static uint32_t shift1 = 0, shift2 = 0;
#endif

/* Tables and shift operators are made once, before main (no lazy initialisation to race on). */
__attribute__((constructor)) static void cohort_crc32c_init(void) {
    make_table();
#if defined(__x86_64__)
    shift1 = shift_operator(block);
    shift2 = shift_operator(2 * block);
#endif
}

/* x^(8·n·2^k) mod P, to shift a CRC over n zero bytes (GF(2) polynomial multiply, reflected). */
static uint32_t gf_multiply(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (int i = 0; i < 32; i++) {
        if (b & 0x80000000u) product ^= a;
        b <<= 1;
        a = (a >> 1) ^ (0x82F63B78u & (0u - (a & 1u)));
    }
    return product;
}

/* x^(8·n) mod P in reflected form: the operator that appends n zero bytes. */
static uint32_t shift_operator(size_t n) {
    uint32_t result = 0x80000000u;        /* x^0 */
    uint32_t square = 0x00800000u;        /* x^8: one zero byte */
    while (n) {
        if (n & 1) result = gf_multiply(result, square);
        square = gf_multiply(square, square);
        n >>= 1;
    }
    return result;
}

uint32_t cohort_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
    /* crc(A‖B) = crc(A)·x^(8·|B|) mod P ^ crc(B): the pre- and post-inversions cancel (see zlib's crc32_combine). */
    return gf_multiply(shift_operator((size_t)length_b), crc_a) ^ crc_b;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc_hardware(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c0 = crc;
    /* Three streams over consecutive blocks of `block` bytes, combined by shifting. */
    if (n >= 3 * block) {
        while (n >= 3 * block) {
            uint64_t c1 = 0, c2 = 0;
            const uint8_t *a = p, *b = p + block, *c = p + 2 * block;
            for (size_t i = 0; i < block; i += 8) {
                uint64_t x, y, z;
                memcpy(&x, a + i, 8); memcpy(&y, b + i, 8); memcpy(&z, c + i, 8);
                c0 = __builtin_ia32_crc32di(c0, x);
                c1 = __builtin_ia32_crc32di(c1, y);
                c2 = __builtin_ia32_crc32di(c2, z);
            }
            /* crc(A‖B‖C) = shift(crc(A), 2·block) ^ shift(crc(B), block) ^ crc(C), each stream from 0. */
            c0 = gf_multiply(shift2, (uint32_t)c0) ^ gf_multiply(shift1, (uint32_t)c1) ^ (uint32_t)c2;
            p += 3 * block; n -= 3 * block;
        }
    }
    while (n >= 8) { uint64_t x; memcpy(&x, p, 8); c0 = __builtin_ia32_crc32di(c0, x); p += 8; n -= 8; }
    uint32_t c = (uint32_t)c0;
    while (n--) c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}
#endif

int cohort_crc32c_hardware(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    return 0;
#endif
}

uint32_t cohort_crc32c(uint32_t crc, const void *data, size_t length) {
    crc = ~crc;
#if defined(__x86_64__)
    if (cohort_crc32c_hardware()) return ~crc_hardware(crc, (const uint8_t *)data, length);
#endif
    return ~crc_table(crc, (const uint8_t *)data, length);
}
