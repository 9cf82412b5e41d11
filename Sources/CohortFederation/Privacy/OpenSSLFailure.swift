import COpenSSL

/// The most recent OpenSSL error as text (and clears OpenSSL's error queue).
func openSSLErrorText() -> String {
    var last: UInt = 0
    while case let e = ERR_get_error(), e != 0 { last = e }
    guard last != 0 else { return "no OpenSSL error recorded" }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(last, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
