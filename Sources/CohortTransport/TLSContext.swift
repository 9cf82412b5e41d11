import COpenSSL
import Foundation

/// An OpenSSL TLS configuration: the coordinator's certificate and key, or the CA a node
/// trusts. TLS 1.3 only.
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    /// True for the accepting (coordinator) side.
    public let isServer: Bool

    private init(server: Bool) throws {
        TransportSignals.ignoreSIGPIPE()   // OpenSSL writes with plain write(): see TransportSignals
        guard let ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()) else {
            throw TransportError("TLS: cannot create a context: \(TLSContext.lastError())")
        }
        context = ctx
        isServer = server
        // SSL_CTX_set_min_proto_version is a macro; call the control function it expands to.
        guard SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_3_VERSION), nil) == 1 else {
            throw TransportError("TLS: cannot require TLS 1.3: \(TLSContext.lastError())")
        }
        Self.tuneForBulk(ctx)
    }

    /// Settings for models of a gigabyte (issue 19), which change nothing of what is checked:
    /// AES-128-GCM preferred (the same TLS 1.3 suites, in another order; about a quarter
    /// faster than AES-256-GCM on this kind of CPU), and read-ahead into a 256 KiB buffer so
    /// one `read` takes many 16 KiB records instead of two `read`s per record. Read-ahead is
    /// safe here because every read asks OpenSSL first and waits on the socket only when it
    /// says it needs more (`SSL_ERROR_WANT_READ`), never on the socket's readability alone.
    static func tuneForBulk(_ ctx: OpaquePointer) {
        _ = SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_SET_READ_AHEAD, 1, nil)   // SSL_CTX_set_read_ahead is a macro
        SSL_CTX_set_default_read_buffer_len(ctx, 256 << 10)
    }

    deinit { SSL_CTX_free(context) }

    /// The coordinator side: present `certificate` (PEM chain) with `privateKey` (PEM).
    public static func server(certificate: String, privateKey: String) throws -> TLSContext {
        let c = try TLSContext(server: true)
        guard SSL_CTX_use_certificate_chain_file(c.context, certificate) == 1 else {
            throw TransportError("TLS: cannot load certificate '\(certificate)': \(lastError())")
        }
        guard SSL_CTX_use_PrivateKey_file(c.context, privateKey, SSL_FILETYPE_PEM) == 1 else {
            throw TransportError("TLS: cannot load private key '\(privateKey)': \(lastError())")
        }
        guard SSL_CTX_check_private_key(c.context) == 1 else {
            throw TransportError("TLS: private key '\(privateKey)' does not match certificate '\(certificate)'")
        }
        return c
    }

    /// The node side: trust only certificates signed by the CA in `trustedCA` (PEM), and check
    /// the coordinator's name or IP address against its certificate.
    public static func client(trustedCA: String) throws -> TLSContext {
        let c = try TLSContext(server: false)
        guard SSL_CTX_load_verify_locations(c.context, trustedCA, nil) == 1 else {
            throw TransportError("TLS: cannot load CA '\(trustedCA)': \(lastError())")
        }
        SSL_CTX_set_verify(c.context, SSL_VERIFY_PEER, nil)
        return c
    }

    /// The most recent OpenSSL error queue entry, as text (and clears the queue).
    static func lastError() -> String {
        var last: UInt = 0
        while case let e = ERR_get_error(), e != 0 { last = e }
        guard last != 0 else { return "unknown error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(last, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
