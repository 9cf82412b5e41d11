/// Parses `host:port` or `[ipv6]:port`.
enum Endpoint {
    static func parse(_ text: String, option: String, context: String) throws -> (host: String, port: UInt16) {
        let host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") {
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        } else {
            throw UsageError(context: context, problem: "option '--\(option)' expects HOST:PORT, got '\(text)'")
        }
        guard !host.isEmpty, let p = UInt16(port) else {
            throw UsageError(context: context, problem: "option '--\(option)' expects HOST:PORT with a port 0-65535, got '\(text)'")
        }
        return (String(host), p)
    }
}
