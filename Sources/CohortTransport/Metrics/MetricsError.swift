/// A metric that cannot be registered or updated as asked (bad name, duplicate, wrong labels).
public struct MetricsError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
