#define _GNU_SOURCE
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
