import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Times as text, without Foundation's date formatters: `ISO8601DateFormatter` loads ICU's
/// calendar and time-zone data (about 5 MB of resident pages), a cost a coordinator journaling
/// a checkpoint every round should not pay for one timestamp.
public enum Timestamp {
    /// `date` in UTC as ISO 8601 with whole seconds (rounded down), e.g. `2026-11-30T00:53:20Z`:
    /// what `ISO8601DateFormatter` writes by default.
    public static func iso8601(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var t = tm()
        gmtime_r(&seconds, &t)
        func digits(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(digits(t.tm_year + 1900, 4))-\(digits(t.tm_mon + 1, 2))-\(digits(t.tm_mday, 2))"
            + "T\(digits(t.tm_hour, 2)):\(digits(t.tm_min, 2)):\(digits(t.tm_sec, 2))Z"
    }
}
