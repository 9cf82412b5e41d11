import Foundation

/// Human-readable numbers for tables, labels and the terminal.
enum ValueFormat {
    /// The placeholder for a value that is missing or not finite.
    static let missing = "–"

    /// `0.8734` → `87.3%`; NaN → `missing`.
    static func percent(_ fraction: Double, decimals: Int = 1) -> String {
        guard fraction.isFinite else { return missing }
        return String(format: "%.\(decimals)f%%", fraction * 100)
    }

    /// R² with three decimals, or `missing` when not finite.
    static func r2(_ value: Double) -> String {
        value.isFinite ? String(format: "%.3f", value) : missing
    }

    /// An error (MAE, RMSE) in the target's units, four significant digits, or `missing`.
    static func error(_ value: Double) -> String {
        value.isFinite ? String(format: "%.4g", value) : missing
    }

    /// Decimal (SI) byte counts: `950 B`, `12.3 KB`, `4.5 MB`, `1.2 GB`; 1 KB = 1000 bytes.
    static func bytes(_ count: Double) -> String {
        guard count.isFinite else { return missing }
        let units = ["B", "KB", "MB", "GB", "TB", "PB"]
        var value = count
        var unit = 0
        while abs(value) >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return String(format: "%.0f B", value) }
        // Whole numbers (the log-axis decades) print without a decimal: "10 KB", not "10.0 KB".
        if value == value.rounded() { return String(format: "%.0f", value) + " " + units[unit] }
        return String(format: value < 10 ? "%.2f" : value < 100 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }

    /// `0.42` → `0.42 s`, `75.3` → `1 min 15 s`, `4000` → `1 h 6 min`.
    static func seconds(_ s: Double) -> String {
        guard s.isFinite else { return missing }
        if s < 10 { return String(format: "%.2f s", s) }
        if s < 60 { return String(format: "%.1f s", s) }
        let whole = Int(s.rounded())
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3600) h \((whole % 3600) / 60) min"
    }

    /// A compact general number: up to `significant` significant digits, no trailing zeros.
    static func number(_ value: Double, significant: Int = 3) -> String {
        guard value.isFinite else { return missing }
        return String(format: "%.\(significant)g", value)
    }

    /// Fixed-point coordinates for SVG: two decimals at most, no trailing zeros, no `-0`.
    static func coordinate(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        var text = String(format: "%.2f", rounded)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }

    /// A tick label for a linear axis: as many decimals as the step needs.
    static func tick(_ value: Double, step: Double) -> String {
        let decimals = max(0, Int((-log10(step)).rounded(.up)))
        let text = String(format: "%.\(decimals)f", value)
        return text == "-0" ? "0" : text
    }
}
