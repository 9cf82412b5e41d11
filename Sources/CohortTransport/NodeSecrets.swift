import COpenSSL
import Foundation

/// Per-node shared secrets and the HMAC-SHA256 challenge-response that proves one.
///
/// The coordinator sends a fresh random challenge; the node answers
/// `HMAC-SHA256(secret, "cohort-auth-v1" ‖ node name ‖ challenge)`. The secret never crosses the
/// wire, and an answer is useless for any other challenge or node name.
public enum NodeSecrets {
    /// Minimum secret length in bytes.
    public static let minimumSecretBytes = 16

    /// Parses a coordinator's secrets file: one `name secret-hex [expected-samples]` line per
    /// node; blank lines and lines starting with `#` are ignored. Errors name the file and line.
    /// The optional third field (see `parseSecretsFileEntries`) is accepted and left out here.
    public static func parseSecretsFile(_ text: String, path: String) throws -> [String: [UInt8]] {
        try parseSecretsFileEntries(text, path: path).secrets
    }

    /// The largest per-node expected sample count a secrets file may give (10¹²).
    public static let maxExpectedSamples = 1_000_000_000_000

    /// Parses a coordinator's secrets file: one `name secret-hex [expected-samples]` line per
    /// node; blank lines and lines starting with `#` are ignored. The optional third field is
    /// the number of training samples the operator knows the node holds (a decimal integer,
    /// 1…10¹²): the coordinator caps the sample weight the node claims at it, or rejects its
    /// update, by the plan's screening action (protocols/wire.md, "Expected sample counts").
    /// Errors name the file and line.
    public static func parseSecretsFileEntries(_ text: String, path: String) throws
        -> (secrets: [String: [UInt8]], expectedSamples: [String: Int]) {
        var secrets: [String: [UInt8]] = [:]
        var expected: [String: Int] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count == 2 || parts.count == 3 else {
                throw TransportError("\(path):\(index + 1): expected 'name secret-hex [expected-samples]', got \(parts.count) fields")
            }
            let name = String(parts[0])
            guard NodeName.isValid(name) else { throw TransportError("\(path):\(index + 1): node names are \(NodeName.rule)") }
            guard let secret = hexBytes(String(parts[1])) else { throw TransportError("\(path):\(index + 1): secret of '\(name)' is not hex") }
            guard secret.count >= minimumSecretBytes else {
                throw TransportError("\(path):\(index + 1): secret of '\(name)' has \(secret.count) bytes; at least \(minimumSecretBytes) are required")
            }
            guard secrets.updateValue(secret, forKey: name) == nil else { throw TransportError("\(path):\(index + 1): node '\(name)' is listed twice") }
            if parts.count == 3 {
                let field = parts[2]
                guard field.allSatisfy({ $0.isASCII && $0.isNumber }), field.count <= 13, let count = Int(field),
                      (1...maxExpectedSamples).contains(count) else {
                    throw TransportError("\(path):\(index + 1): expected sample count of '\(name)' must be a whole number from 1 to \(maxExpectedSamples), got '\(field)'")
                }
                expected[name] = count
            }
        }
        return (secrets, expected)
    }

    /// Parses a node's secret file: the hex secret alone (surrounding whitespace ignored).
    public static func parseNodeSecret(_ text: String, path: String) throws -> [UInt8] {
        guard let secret = hexBytes(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw TransportError("\(path): secret is not hex") }
        guard secret.count >= minimumSecretBytes else { throw TransportError("\(path): secret has \(secret.count) bytes; at least \(minimumSecretBytes) are required") }
        return secret
    }

    /// `count` cryptographically random bytes (OpenSSL's RAND_bytes).
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        precondition(RAND_bytes(&out, Int32(count)) == 1, "OpenSSL RAND_bytes failed")
        return out
    }

    /// The answer to `challenge` for `node` holding `secret`.
    public static func response(secret: [UInt8], node: String, challenge: [UInt8]) -> [UInt8] {
        let message = Array("cohort-auth-v1".utf8) + [0] + Array(node.utf8) + [0] + challenge
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = secret.withUnsafeBytes { key in
            message.withUnsafeBytes { msg in
                HMAC(EVP_sha256(), key.baseAddress, Int32(key.count), msg.baseAddress?.assumingMemoryBound(to: UInt8.self),
                     msg.count, &out, &length)
            }
        }
        precondition(ok != nil && length == 32, "OpenSSL HMAC-SHA256 failed")
        return out
    }

    /// Constant-time comparison of an answer with the expected one.
    public static func verify(secret: [UInt8], node: String, challenge: [UInt8], answer: [UInt8]) -> Bool {
        let expected = response(secret: secret, node: node, challenge: challenge)
        guard answer.count == expected.count else { return false }
        return CRYPTO_memcmp(answer, expected, expected.count) == 0
    }

    /// Bytes from a hex string (even length, 0-9a-fA-F), or nil.
    public static func hexBytes(_ hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        for i in stride(from: 0, to: chars.count, by: 2) {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
