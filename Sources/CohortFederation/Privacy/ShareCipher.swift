import COpenSSL

/// AES-256-GCM for the share bundles that nodes send each other through the coordinator.
///
/// One key per pair and round (derived from the pair's encryption keys c), used in both
/// directions: the 12-byte nonce is sender (u32 LE) ‖ recipient (u32 LE) ‖ 4 zero bytes, unique
/// because each node sends each peer one bundle per round. The associated data binds the round
/// and both ids. Sealed = ciphertext ‖ 16-byte tag.
enum ShareCipher {
    static let tagBytes = 16

    static func nonce(from: UInt32, to: UInt32) -> [UInt8] {
        KeyDerivation.littleEndianBytes(from) + KeyDerivation.littleEndianBytes(to) + [0, 0, 0, 0]
    }

    static func associatedData(round: UInt64, from: UInt32, to: UInt32) -> [UInt8] {
        Array("cohort-secagg-v1 share bundle".utf8) + KeyDerivation.littleEndianBytes(round)
            + KeyDerivation.littleEndianBytes(from) + KeyDerivation.littleEndianBytes(to)
    }

    static func seal(_ plaintext: [UInt8], key: [UInt8], round: UInt64, from: UInt32, to: UInt32) -> [UInt8] {
        guard let ctx = EVP_CIPHER_CTX_new() else { preconditionFailure("OpenSSL could not allocate a cipher context") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let aad = associatedData(round: round, from: from, to: to)
        var out = [UInt8](repeating: 0, count: plaintext.count + tagBytes)
        var n: Int32 = 0
        var ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce(from: from, to: to)) == 1
        ok = ok && EVP_EncryptUpdate(ctx, nil, &n, aad, Int32(aad.count)) == 1
        ok = ok && out.withUnsafeMutableBufferPointer { o in
            var m: Int32 = 0
            guard EVP_EncryptUpdate(ctx, o.baseAddress, &m, plaintext, Int32(plaintext.count)) == 1,
                  EVP_EncryptFinal_ex(ctx, o.baseAddress! + Int(m), &n) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagBytes), o.baseAddress! + plaintext.count) == 1
        }
        precondition(ok, "AES-256-GCM encryption failed: \(openSSLErrorText())")
        return out
    }

    /// The plaintext, or nil when the tag does not verify (wrong key, sender, recipient, round,
    /// or altered bytes).
    static func open(_ sealed: [UInt8], key: [UInt8], round: UInt64, from: UInt32, to: UInt32) -> [UInt8]? {
        guard sealed.count >= tagBytes else { return nil }
        guard let ctx = EVP_CIPHER_CTX_new() else { preconditionFailure("OpenSSL could not allocate a cipher context") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let aad = associatedData(round: round, from: from, to: to)
        let body = Array(sealed[..<(sealed.count - tagBytes)])
        var tag = Array(sealed[(sealed.count - tagBytes)...])
        var out = [UInt8](repeating: 0, count: body.count + 16)
        var n: Int32 = 0, m: Int32 = 0
        guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce(from: from, to: to)) == 1,
              EVP_DecryptUpdate(ctx, nil, &n, aad, Int32(aad.count)) == 1,
              EVP_DecryptUpdate(ctx, &out, &m, body, Int32(body.count)) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagBytes), &tag) == 1 else { return nil }
        let final = out.withUnsafeMutableBufferPointer { o in EVP_DecryptFinal_ex(ctx, o.baseAddress! + Int(m), &n) }
        ERR_clear_error()
        guard final == 1 else { return nil }
        return Array(out[..<Int(m)])
    }
}
