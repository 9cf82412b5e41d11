#ifndef COHORT_CRC32C_H
#define COHORT_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `length` bytes at `data`, continuing
/// from `crc` (0 to start; pass a previous result to continue). Uses the SSE4.2 `crc32`
/// instruction (three interleaved streams) when the CPU has it, else slicing-by-8 tables.
uint32_t cohort_crc32c(uint32_t crc, const void *data, size_t length);

/// 1 when the SSE4.2 instruction is used, 0 for the table version.
int cohort_crc32c_hardware(void);

#endif
