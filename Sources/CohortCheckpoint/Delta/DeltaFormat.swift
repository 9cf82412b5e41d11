#if _endian(big)
#error("The delta codec writes and reads little-endian values straight from memory; port it before building on a big-endian host.")
#endif

/// Constants and limits of the delta wire format, specified in `protocols/delta-codec.md`.
///
/// A message is a fixed 28-byte header followed by the body (the tensor records), stored
/// either as is or zlib-compressed. All integers are little-endian.
public enum DeltaFormat {
    /// The first four bytes of every message: ASCII `CDLT` (Cohort DeLTa).
    public static let magic: [UInt8] = [0x43, 0x44, 0x4C, 0x54]
    /// The format version this code writes and the only one it reads.
    public static let version: UInt16 = 1
    /// Bytes in the fixed header: magic, version, flags, tensor count, body size, stored size.
    public static let headerSize = 28
    /// Flag bit 0: the body is stored zlib-compressed. Every other flag bit must be zero.
    public static let flagZlib: UInt16 = 1
    /// Longest tensor name, in UTF-8 bytes.
    public static let maxNameBytes = 256
    /// Highest tensor rank.
    public static let maxRank = 8
    /// Most elements in one tensor (indices and value counts fit in 31 bits).
    public static let maxElementsPerTensor = Int(Int32.max)
    /// Most tensors in one message.
    public static let maxTensors = 65_536
    /// Largest int8 quantisation block.
    public static let maxBlockSize = 65_536
    /// Longest LEB128 varint in the index stream (a 31-bit value needs at most 5 bytes).
    static let maxVarintBytes = 5
}

/// How a tensor record's values are stored (the record's encoding byte).
enum DeltaValueEncoding: UInt8 {
    /// IEEE 754 binary32, 4 bytes per value.
    case float32 = 0
    /// IEEE 754 binary16, 2 bytes per value.
    case float16 = 1
    /// Signed bytes in -127...127 times a float32 scale per block of values.
    case int8 = 2

    /// Bytes per stored value.
    var width: Int {
        switch self {
        case .float32: 4
        case .float16: 2
        case .int8: 1
        }
    }

    /// The name used in error messages and the spec.
    var name: String {
        switch self {
        case .float32: "float32"
        case .float16: "float16"
        case .int8: "int8"
        }
    }
}

/// Which elements a tensor record carries (the record's layout byte).
enum DeltaLayout: UInt8 {
    /// Every element, in row-major order.
    case dense = 0
    /// Only the elements named by the index stream; the rest are zero.
    case sparse = 1
}
