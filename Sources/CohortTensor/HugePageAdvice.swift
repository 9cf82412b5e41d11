#if canImport(Glibc)
import Glibc
#endif

/// Transparent huge pages for large buffers about to be written whole.
public enum HugePageAdvice {
    /// Asks for transparent huge pages on the 2 MiB-aligned interior of `buffer` (64 MiB or
    /// more): one page fault per 2 MiB instead of per 4 KiB. Advice only: 4 KiB pages if the
    /// kernel refuses, and nothing on platforms without `madvise`.
    public static func advise(_ buffer: UnsafeMutableRawBufferPointer) {
        #if canImport(Glibc)
        let hugePage = 2 << 20
        guard buffer.count >= 64 << 20, let base = buffer.baseAddress else { return }
        let start = (Int(bitPattern: base) + hugePage - 1) / hugePage * hugePage
        let end = (Int(bitPattern: base) + buffer.count) / hugePage * hugePage
        guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(aligned, end - start, MADV_HUGEPAGE)
        #endif
    }
}
