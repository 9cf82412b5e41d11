import Synchronization

/// Reusable, 64-byte-aligned float scratch buffers for kernels (GEMM packing, im2col).
///
/// Allocating a fresh multi-megabyte buffer per call costs page faults on every use; a kernel
/// takes a buffer from this pool and gives it back, so steady-state training allocates nothing.
enum ScratchBuffers {
    private struct Buffer: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Float>
        let capacity: Int
    }

    private static let free = Mutex<[Buffer]>([])

    /// Runs `body` with a buffer of at least `count` floats (contents undefined).
    static func with<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let needed = max(count, 16)
        var buffer = free.withLock { list -> Buffer? in
            if let i = list.firstIndex(where: { $0.capacity >= needed }) { return list.remove(at: i) }
            return nil
        }
        if buffer == nil {
            // Round up so slightly larger later requests reuse this buffer.
            let capacity = (needed + 4095) & ~4095
            let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64)
            buffer = Buffer(pointer: raw.bindMemory(to: Float.self, capacity: capacity), capacity: capacity)
        }
        let held = buffer!
        defer {
            free.withLock { list in
                list.append(held)
                if list.count > 16 {
                    // Keep the pool small: drop the smallest buffer.
                    let i = list.indices.min(by: { list[$0].capacity < list[$1].capacity })!
                    UnsafeMutableRawPointer(list.remove(at: i).pointer).deallocate()
                }
            }
        }
        return try body(held.pointer)
    }
}
