import COpenSSL

/// HKDF-SHA256 (RFC 5869, through OpenSSL's EVP_PKEY_HKDF) and the secure-aggregation key
/// schedule built on it: every seed or key is bound to its purpose, the round and the pair.
public enum KeyDerivation {
    /// The HKDF salt of every secure-aggregation derivation.
    public static let salt = Array("cohort-secagg-v1".utf8)

    /// HKDF-SHA256(salt, input key material `secret`, `info`) → `length` bytes (1…8160).
    public static func hkdfSHA256(secret: [UInt8], salt: [UInt8], info: [UInt8], length: Int = 32) -> [UInt8] {
        precondition(length >= 1 && length <= 255 * 32, "HKDF-SHA256 output must be 1…8160 bytes, got \(length)")
        guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nil) else { preconditionFailure("OpenSSL has no HKDF") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: length)
        var outLength = length
        let ok = EVP_PKEY_derive_init(ctx) == 1
            && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1
            && EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, Int32(salt.count)) == 1
            && EVP_PKEY_CTX_set1_hkdf_key(ctx, secret, Int32(secret.count)) == 1
            && EVP_PKEY_CTX_add1_hkdf_info(ctx, info, Int32(info.count)) == 1
            && EVP_PKEY_derive(ctx, &out, &outLength) == 1
        precondition(ok && outLength == length, "HKDF-SHA256 failed: \(openSSLErrorText())")
        return out
    }

    /// What a derived secret is for; its label goes first in the HKDF info.
    public enum Purpose: String, Sendable {
        /// The pairwise mask seed s_{u,v} (from the masking keys s).
        case pairwiseMask = "pairwise-mask"
        /// The AES-256-GCM key for the share bundles between u and v (from the keys c).
        case shareEncryption = "share-encryption"
    }

    /// The 32-byte secret for a pair of nodes in a round: HKDF-SHA256 with salt
    /// "cohort-secagg-v1" and info = label ‖ 0x00 ‖ round (u64 LE) ‖ min(u, v) (u32 LE) ‖
    /// max(u, v) (u32 LE), so u and v derive the same bytes.
    public static func pairSecret(sharedSecret: [UInt8], purpose: Purpose, round: UInt64, _ u: UInt32, _ v: UInt32) -> [UInt8] {
        var info = Array(purpose.rawValue.utf8) + [0]
        info += littleEndianBytes(round)
        info += littleEndianBytes(min(u, v))
        info += littleEndianBytes(max(u, v))
        return hkdfSHA256(secret: sharedSecret, salt: salt, info: info)
    }

    static func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
