import COpenSSL

/// Ed25519 signatures (RFC 8032) through OpenSSL's EVP interface: a 32-byte private seed, a
/// 32-byte public key and 64-byte signatures. Secure aggregation's consistency round uses them
/// so that a coordinator cannot forge a node's public keys or its view of the survivors.
public final class Ed25519Signer {
    private let key: OpaquePointer
    /// The 32-byte public key.
    public let publicKey: [UInt8]

    /// The signer whose private key is the 32-byte `seed`.
    public init(seed: [UInt8]) throws(PrivacyError) {
        guard seed.count == 32 else { throw PrivacyError("an Ed25519 private key is 32 bytes, got \(seed.count)") }
        guard let k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, 32) else {
            throw PrivacyError("Ed25519: cannot load private key: \(openSSLErrorText())")
        }
        var pub = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(k, &pub, &length) == 1, length == 32 else {
            EVP_PKEY_free(k)
            throw PrivacyError("Ed25519: cannot export the public key: \(openSSLErrorText())")
        }
        key = k
        publicKey = pub
    }

    deinit { EVP_PKEY_free(key) }

    /// The 64-byte signature of `message`.
    public func sign(_ message: [UInt8]) throws(PrivacyError) -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw PrivacyError("Ed25519: no context: \(openSSLErrorText())") }
        defer { EVP_MD_CTX_free(ctx) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        guard EVP_DigestSignInit(ctx, nil, nil, nil, key) == 1,
              EVP_DigestSign(ctx, &signature, &length, message, message.count) == 1, length == 64 else {
            throw PrivacyError("Ed25519: signing failed: \(openSSLErrorText())")
        }
        return signature
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` under `publicKey`; false for
    /// any malformed key or signature.
    public static func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, publicKey.count == 32,
              let peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, publicKey, 32) else { return false }
        defer { EVP_PKEY_free(peer) }
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, nil, nil, peer) == 1 else { return false }
        return EVP_DigestVerify(ctx, signature, signature.count, message, message.count) == 1
    }
}
