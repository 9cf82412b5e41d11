/// The `metrics.json` convention for numbers that JSON cannot hold.
///
/// JSON has no NaN or infinity (and `JSONEncoder` throws on them by default). Every `Double`
/// in the results model is therefore encoded as `null` when it is not finite, and `null` is
/// decoded back as `.nan`. An accuracy that could not be measured is NaN in memory and `null`
/// on disk; ±infinity is not expected in results and also reads back as NaN.
///
/// The model's `==` treats NaN as equal to NaN, so a results value round-trips through
/// `metrics.json` to an equal value.
enum JSONNumber {
    /// `value`, or `nil` (encoded as `null`) when it is not finite.
    static func encoded(_ value: Double) -> Double? { value.isFinite ? value : nil }

    /// Element-wise `encoded(_:)`.
    static func encoded(_ values: [Double]) -> [Double?] { values.map(encoded) }

    /// Value-wise `encoded(_:)`.
    static func encoded(_ values: [String: Double]) -> [String: Double?] { values.mapValues(encoded) }

    /// `value`, or NaN for `null`.
    static func decoded(_ value: Double?) -> Double { value ?? .nan }

    /// Element-wise `decoded(_:)`.
    static func decoded(_ values: [Double?]) -> [Double] { values.map(decoded) }

    /// Value-wise `decoded(_:)`.
    static func decoded(_ values: [String: Double?]) -> [String: Double] { values.mapValues(decoded) }

    /// Equality where NaN equals NaN.
    static func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }

    /// Element-wise `same(_:_:)`.
    static func same(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
    }

    /// Key-wise `same(_:_:)`.
    static func same(_ a: [String: Double], _ b: [String: Double]) -> Bool {
        a.count == b.count && a.allSatisfy { key, value in b[key].map { same(value, $0) } ?? false }
    }
}

extension KeyedEncodingContainer {
    /// Encodes a number under the `null`-for-non-finite convention.
    mutating func encodeNumber(_ value: Double, forKey key: Key) throws {
        try encode(JSONNumber.encoded(value), forKey: key)
    }

    /// Encodes numbers under the `null`-for-non-finite convention.
    mutating func encodeNumbers(_ values: [Double], forKey key: Key) throws {
        try encode(JSONNumber.encoded(values), forKey: key)
    }

    /// Encodes a number map under the `null`-for-non-finite convention.
    mutating func encodeNumbers(_ values: [String: Double], forKey key: Key) throws {
        try encode(JSONNumber.encoded(values), forKey: key)
    }
}

extension KeyedDecodingContainer {
    /// Decodes a number written by `encodeNumber` (`null` becomes NaN).
    func decodeNumber(forKey key: Key) throws -> Double {
        if try decodeNil(forKey: key) { return .nan }
        return try decode(Double.self, forKey: key)
    }

    /// Decodes numbers written by `encodeNumbers` (`null` becomes NaN).
    func decodeNumbers(forKey key: Key) throws -> [Double] {
        JSONNumber.decoded(try decode([Double?].self, forKey: key))
    }

    /// Decodes a number map written by `encodeNumbers` (`null` becomes NaN).
    func decodeNumberMap(forKey key: Key) throws -> [String: Double] {
        JSONNumber.decoded(try decode([String: Double?].self, forKey: key))
    }
}
