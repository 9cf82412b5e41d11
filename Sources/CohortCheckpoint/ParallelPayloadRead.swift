import CCRC32C
import CohortTensor
#if canImport(Glibc)
import Glibc
#endif

/// Reading a large float32 payload straight into a new array on two threads: each reads its
/// half with `pread` in chunks, checksums each chunk (CRC-32C) and checks it for NaN and
/// infinity while it is still in cache; the halves' CRCs are then combined into the file's
/// running CRC. One pass over memory instead of three (read, checksum, finiteness scan), and
/// the page faults of the new array are split across both cores.
extension BinaryFileReader {
    /// Payloads smaller than this are read on one thread.
    static let parallelThreshold = 8 << 20
    /// Bytes read, checksummed and checked per step (stays in the 2nd-level cache).
    static let chunkBytes = 1 << 20

    /// Reads `count` little-endian float32 values into a new array, feeding the checksum, and
    /// reports whether every value is finite (the caller decides when to complain, so a
    /// corrupted file is reported as a checksum mismatch first).
    func checkedFloats(_ count: Int, for what: String) throws -> (values: [Float], finite: Bool) {
        guard count >= 0, count <= remaining / 4 else {
            throw CheckpointError.truncated(path: path, offset: offset, needed: count.multipliedReportingOverflow(by: 4).partialValue,
                                            fileSize: size, what: what)
        }
        let byteCount = count * 4
        guard hasher.kind == .crc32c || hasher.kind == .off, byteCount >= Self.parallelThreshold else {
            let values = try floats(count, for: what)
            return (values, values.withUnsafeBufferPointer { VectorKernels.allFinite($0) })
        }
        var values = [Float].uninitialized(count: count)
        let start = offset
        // Split at a 4 KiB boundary (a whole number of floats) so each thread faults its own pages.
        let split = (byteCount / 2) & ~4095
        let parts = [(0, split), (split, byteCount - split)]
        var crcs: [UInt32] = [0, 0]
        var finite = [true, true]
        var failures: [String?] = [nil, nil]
        let fd = self.descriptor
        let checksummed = hasher.kind == .crc32c
        values.withUnsafeMutableBytes { buffer in
            let base = buffer.baseAddress!
            HugePageAdvice.advise(buffer)
            crcs.withUnsafeMutableBufferPointer { crcs in
                finite.withUnsafeMutableBufferPointer { finite in
                    failures.withUnsafeMutableBufferPointer { failures in
                        WorkerPool.shared.run(tasks: 2) { part in
                            let (from, length) = parts[part]
                            var crc: UInt32 = 0
                            var ok = true
                            var done = 0
                            while done < length {
                                let want = min(Self.chunkBytes, length - done)
                                let destination = base + from + done
                                var got = 0
                                while got < want {
                                    let n = pread(fd, destination + got, want - got, off_t(start + from + done + got))
                                    if n < 0 && errno == EINTR { continue }
                                    guard n > 0 else {
                                        failures[part] = "read failed at offset \(start + from + done + got): "
                                            + (n == 0 ? "unexpected end of file" : String(cString: strerror(errno)))
                                        return
                                    }
                                    got += n
                                }
                                if checksummed { crc = cohort_crc32c(crc, destination, want) }
                                ok = ok && VectorKernels.allFinite(UnsafeBufferPointer(
                                    start: destination.assumingMemoryBound(to: Float.self), count: want / 4))
                                done += want
                            }
                            crcs[part] = crc
                            finite[part] = ok
                        }
                    }
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw CheckpointError.io(path: path, reason: failure) }
        hasher.append(crc: cohort_crc32c_combine(crcs[0], crcs[1], UInt64(parts[1].1)), length: byteCount)
        try skip(byteCount)
        return (values, finite[0] && finite[1])
    }
}
