#define _GNU_SOURCE
#include <sched.h>
#include "CCRC32C.h"
#include <errno.h>
#include <fcntl.h>

int cohort_start_writeback(int fd, int64_t offset, int64_t length) {
#if defined(__linux__)
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

int cohort_create_direct(const char *path, int mode) {
#if defined(__linux__)
    return open(path, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, mode);
#else
    (void)path; (void)mode;
    errno = ENOSYS;
    return -1;
#endif
}

int cohort_affinity_cpus(void) {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    return CPU_COUNT(&set);
#else
    return 0;
#endif
}
