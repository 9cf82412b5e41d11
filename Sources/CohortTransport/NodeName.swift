/// The names nodes may have: checked before a name from the network is logged or looked up,
/// so a HELLO cannot forge log lines or smuggle escape codes.
public enum NodeName {
    /// Longest name accepted.
    public static let maxLength = 64
    /// The rule, as said to a peer or an operator.
    public static let rule = "1–64 characters of A–Z a–z 0–9 . _ -"

    /// Whether `name` is 1–64 characters of `A–Z a–z 0–9 . _ -`.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return !bytes.isEmpty && bytes.count <= maxLength && bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F || b == 0x2D
        }
    }
}
