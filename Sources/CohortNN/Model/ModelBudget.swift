import Foundation

/// Limits a model description must meet before anything is allocated for it: a hostile or
/// mistaken description (`"units": 1e12`, an input shape of 2^62) gets an error, not a crash.
public struct ModelBudget: Sendable, Equatable {
    /// Most scalar parameters (weights and buffers) a model may hold.
    public var maxParameters: Int
    /// Most values one node may produce per sample.
    public var maxValuesPerSample: Int

    /// A budget with explicit limits.
    public init(maxParameters: Int, maxValuesPerSample: Int) {
        self.maxParameters = maxParameters
        self.maxValuesPerSample = maxValuesPerSample
    }

    /// The default: parameters whose weights, gradients and optimizer state (about 16 bytes
    /// each) fit in this machine's memory, capped at 2^34; 2^28 values per sample per node.
    public static let standard: ModelBudget = {
        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        return ModelBudget(maxParameters: min(max(memory / 16, 1 << 20), 1 << 34), maxValuesPerSample: 1 << 28)
    }()
}

/// Overflow-checked size arithmetic for shapes read from files and the network.
enum SizeMath {
    /// The product of `dims`, or nil when it overflows or exceeds `limit`.
    static func product(_ dims: [Int], limit: Int = Int.max) -> Int? {
        var total = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow, p <= limit else { return nil }
            total = p
        }
        return total
    }

    /// `a + b`, or nil on overflow.
    static func sum(_ a: Int, _ b: Int) -> Int? {
        let (s, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : s
    }
}
