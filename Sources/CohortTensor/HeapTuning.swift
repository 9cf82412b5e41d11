#if canImport(Glibc)
import Glibc
#endif

/// Process-wide allocator settings for training loops.
public enum HeapTuning {
    /// Makes glibc's malloc keep freed memory instead of returning it to the kernel.
    ///
    /// Training allocates and frees the same multi-megabyte activation buffers every step. By
    /// default glibc serves blocks over its mmap threshold with fresh mappings and trims the heap
    /// top, so each step page-faults those buffers in again (and two kernel threads faulting at
    /// once contend on the address-space lock). With a high fixed mmap threshold and no trimming,
    /// the buffers are recycled from the heap. Call once at start-up; a no-op off glibc.
    public static func keepFreedMemory() {
        #if canImport(Glibc)
        // <malloc.h> is not in Swift's Glibc module; look mallopt up. Its option numbers are
        // glibc ABI: M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(-3, 256 << 20)
        _ = mallopt(-1, Int32.max)
        #endif
    }

    /// The opposite trade, for a long-running server (the coordinator): blocks of `threshold`
    /// bytes and more come straight from the kernel and go back to it when freed. Its large
    /// buffers (a round's running sum, received records) are made and freed on many threads;
    /// kept in glibc's per-thread heaps they would pile up, round after round, in heaps that
    /// other threads never reuse. Also returns what is free now. A no-op off glibc.
    public static func returnLargeBlocks(threshold: Int32 = 1 << 20) {
        #if canImport(Glibc)
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let option = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt"),
              let trim = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        let mallopt = unsafeBitCast(option, to: Mallopt.self)
        _ = mallopt(-3, threshold)      // M_MMAP_THRESHOLD (fixed: no dynamic raising)
        _ = mallopt(-1, 128 << 10)      // M_TRIM_THRESHOLD: glibc's default
        _ = unsafeBitCast(trim, to: MallocTrim.self)(0)
        #endif
    }
}
