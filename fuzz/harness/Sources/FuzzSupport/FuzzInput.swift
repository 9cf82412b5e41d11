import Foundation

/// Helpers shared by the libFuzzer harnesses: turning libFuzzer's buffer into bytes, files
/// for the loaders that take a path, and writing seed corpora.
public enum FuzzInput {
    /// libFuzzer's input as an array (libFuzzer may pass a null pointer for an empty input).
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// A file path private to this process, for loaders that read from a path.
    public static let scratchPath: String = {
        let dir = ProcessInfo.processInfo.environment["COHORT_FUZZ_TMP"] ?? NSTemporaryDirectory()
        return (dir as NSString).appendingPathComponent("cohort-fuzz-\(getpid()).bin")
    }()

    /// Writes `bytes` to `scratchPath` (replacing what was there) and returns the path.
    public static func file(_ bytes: [UInt8]) -> String {
        let fd = open(scratchPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if fd < 0 { fatalError("fuzz harness: cannot write \(scratchPath)") }   // the harness's own setup, not input
        var done = 0
        bytes.withUnsafeBytes { b in
            while done < b.count {
                let n = write(fd, b.baseAddress! + done, b.count - done)
                if n <= 0 { break }
                done += n
            }
        }
        close(fd)
        return scratchPath
    }

    /// Reads a whole file (for seeds made by the library's own writers).
    public static func read(_ path: String) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { fatalError("fuzz seeds: cannot read \(path)") }
        return [UInt8](data)
    }

    /// When `COHORT_FUZZ_WRITE_SEEDS` names a directory, writes `seeds()` there (one file per
    /// seed) and exits; otherwise does nothing. Called from `LLVMFuzzerInitialize`, so
    /// `scripts/fuzz.sh seeds` regenerates the corpora from the library's real writers.
    public static func writeSeedsIfAsked(_ seeds: () throws -> [(name: String, bytes: [UInt8])]) {
        guard let dir = ProcessInfo.processInfo.environment["COHORT_FUZZ_WRITE_SEEDS"] else { return }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let all = try seeds()
            for seed in all {
                try Data(seed.bytes).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent(seed.name)))
            }
            print("wrote \(all.count) seeds to \(dir)")
            exit(0)
        } catch {
            print("fuzz seeds: \(error)")
            exit(1)
        }
    }
}
