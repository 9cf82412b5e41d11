#ifndef COHORT_CRC32C_H
#define COHORT_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `length` bytes at `data`, continuing
/// from `crc` (0 to start; pass a previous result to continue). Uses the SSE4.2 `crc32`
/// instruction (three interleaved streams) when the CPU has it, else slicing-by-8 tables.
uint32_t cohort_crc32c(uint32_t crc, const void *data, size_t length);

/// CRC-32C of A‖B from crc_a = CRC-32C of A, crc_b = CRC-32C of B (each started from 0) and
/// |B| = length_b bytes: lets parts of one stream be checksummed on different threads.
uint32_t cohort_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);

/// 1 when the SSE4.2 instruction is used, 0 for the table version.
int cohort_crc32c_hardware(void);

/// Starts writing `length` bytes of `fd` from `offset` back to disk without waiting (Linux
/// `sync_file_range(SYNC_FILE_RANGE_WRITE)`; a no-op elsewhere), so a large file's writeback
/// overlaps its writing and the final fsync waits only for the tail. Not a durability
/// guarantee: fsync still follows. Returns 0, or -1 with errno.
int cohort_start_writeback(int fd, int64_t offset, int64_t length);

/// Creates `path` (which must not exist) for writing with the page cache bypassed (Linux
/// `O_DIRECT`): every write's buffer address, length and file offset must then be multiples of
/// the file system's block size. Returns the descriptor, or -1 with errno (EINVAL where the
/// file system cannot do it, such as tmpfs; ENOSYS off Linux).
int cohort_create_direct(const char *path, int mode);

/// CPUs this process may run on (Linux `sched_getaffinity`: what `taskset`, a Slurm job's
/// cpuset or a Kubernetes exclusive-CPU pod allows), or 0 when unknown.
int cohort_affinity_cpus(void);

#endif
