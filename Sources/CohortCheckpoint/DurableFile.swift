/// Whole-file replacement that survives crashes and power loss: the bytes go to a temporary
/// file, which is fsynced and renamed over the target, and then the directory is fsynced.
public enum DurableFile {
    /// Replaces `path` with `bytes`; on failure the old file is left as it was.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let out = try AtomicFileWriter(path: path)
        try out.write(bytes, hash: false)
        try out.commit()
    }
}
