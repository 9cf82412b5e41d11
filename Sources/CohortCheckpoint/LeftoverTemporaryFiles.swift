import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Temporary files a killed process left behind. Durable writes (`DurableFile`, checkpoints,
/// tensor files) go through `TARGET.tmp-PID-RANDOM` in the target's folder, removed on commit
/// or failure; a SIGKILL or power loss between the two leaves it. Removing them at start keeps
/// a resumed run's folder to what the run wrote.
public enum LeftoverTemporaryFiles {
    /// Whether `name` has the form `TARGET.tmp-PID-RANDOM`; its PID if so.
    static func writerPID(of name: String) -> Int32? {
        guard let range = name.range(of: ".tmp-", options: .backwards), range.lowerBound > name.startIndex else { return nil }
        let parts = name[range.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let pid = Int32(parts[0]), pid > 0, !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII), UInt32(parts[1]) != nil else {
            return nil
        }
        return pid
    }

    /// Removes the leftover temporary files in `directory` (only those of targets named
    /// `target`, when given). A file is left alone while another live process with its PID
    /// could still be writing it; files of this process's PID are removed (a restarted
    /// container often gets the same PID, and this process has written none yet). Returns the
    /// names removed. Only regular files are removed; nothing below `directory` is visited.
    @discardableResult
    public static func remove(in directory: String, target: String? = nil) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names.sorted() {
            guard let pid = writerPID(of: name) else { continue }
            if let target, !name.hasPrefix(target + ".tmp-") { continue }
            if pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM) { continue }   // its writer may be alive
            let path = (directory as NSString).appendingPathComponent(name)
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            if unlink(path) == 0 { removed.append(name) }
        }
        return removed
    }
}
