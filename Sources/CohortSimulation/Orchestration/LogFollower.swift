import Foundation

/// Reads the lines appended to a log file since the last call (for relaying a child
/// process's progress).
final class LogFollower {
    let path: String
    private var offset: UInt64 = 0
    private var partial = ""

    init(path: String) { self.path = path }

    /// Complete lines written since the previous call.
    func newLines() -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd(), !data.isEmpty else { return [] }
        offset += UInt64(data.count)
        partial += String(decoding: data, as: UTF8.self)
        var lines = partial.components(separatedBy: "\n")
        partial = lines.removeLast()
        return lines.filter { !$0.isEmpty }
    }
}
