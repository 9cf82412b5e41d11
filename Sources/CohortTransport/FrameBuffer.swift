/// A receive buffer reused from frame to frame of one streamed message (`FramedConnection`),
/// so each CHUNK's payload lands in memory already mapped and touched instead of a new array
/// (zero-filled, then page-faulted) per chunk. It grows to the largest payload asked for,
/// which the caller has checked against its limit first.
final class FrameBuffer {
    private var storage: UnsafeMutableRawBufferPointer

    /// An empty buffer; nothing is allocated until the first frame.
    init() { storage = UnsafeMutableRawBufferPointer(start: nil, count: 0) }

    deinit { storage.deallocate() }

    /// The first `count` bytes of the buffer, grown first if it is smaller (earlier contents
    /// are not kept).
    func prefix(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if storage.count < count {
            storage.deallocate()
            storage = .allocate(byteCount: count, alignment: 64)
        }
        return UnsafeMutableRawBufferPointer(rebasing: storage[0..<count])
    }
}
