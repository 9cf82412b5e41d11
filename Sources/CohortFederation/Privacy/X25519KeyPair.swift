import COpenSSL

/// An X25519 key pair (RFC 7748) through OpenSSL's EVP interface: 32-byte raw private and public
/// keys, and Diffie–Hellman agreement with a peer's public key.
///
/// Secure aggregation needs the raw private key: a node's masking key is Shamir-shared so that the
/// coordinator can rebuild it if the node drops out, and rebuilding checks the result against
/// the public key the node advertised.
public final class X25519KeyPair {
    private let key: OpaquePointer
    /// The 32-byte public key.
    public let publicKey: [UInt8]

    /// The key pair whose private key is `privateKey` (32 bytes; X25519 clamps it).
    public init(privateKey: [UInt8]) throws(PrivacyError) {
        guard privateKey.count == 32 else { throw PrivacyError("an X25519 private key is 32 bytes, got \(privateKey.count)") }
        guard let k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, privateKey, 32) else {
            throw PrivacyError("X25519: cannot load private key: \(openSSLErrorText())")
        }
        var pub = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(k, &pub, &length) == 1, length == 32 else {
            EVP_PKEY_free(k)
            throw PrivacyError("X25519: cannot export the public key: \(openSSLErrorText())")
        }
        key = k
        publicKey = pub
    }

    /// A fresh key pair whose private key is 32 bytes from `random`.
    public static func generate(random: CryptoRandom) -> X25519KeyPair {
        do { return try X25519KeyPair(privateKey: random.bytes(32)) } catch {
            preconditionFailure("X25519 rejected a 32-byte private key: \(error)")
        }
    }

    deinit { EVP_PKEY_free(key) }

    /// The raw 32-byte private key.
    public var privateKey: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        precondition(EVP_PKEY_get_raw_private_key(key, &out, &length) == 1 && length == 32, "X25519: cannot export the private key")
        return out
    }

    /// The 32-byte shared secret X25519(private, `peerPublicKey`). Throws for a malformed peer
    /// key or one of small order (the all-zero result that OpenSSL refuses).
    public func sharedSecret(with peerPublicKey: [UInt8]) throws(PrivacyError) -> [UInt8] {
        guard peerPublicKey.count == 32 else { throw PrivacyError("an X25519 public key is 32 bytes, got \(peerPublicKey.count)") }
        guard let peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, peerPublicKey, 32) else {
            throw PrivacyError("X25519: cannot load the peer's public key: \(openSSLErrorText())")
        }
        defer { EVP_PKEY_free(peer) }
        guard let ctx = EVP_PKEY_CTX_new(key, nil) else { throw PrivacyError("X25519: no context: \(openSSLErrorText())") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_derive_init(ctx) == 1, EVP_PKEY_derive_set_peer(ctx, peer) == 1,
              EVP_PKEY_derive(ctx, &out, &length) == 1, length == 32 else {
            throw PrivacyError("X25519: key agreement failed (malformed or small-order peer key): \(openSSLErrorText())")
        }
        return out
    }
}
