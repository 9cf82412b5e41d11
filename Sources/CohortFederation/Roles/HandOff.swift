/// Hands a non-Sendable value to exactly one other thread, which becomes its only user (the
/// coordinator gives each connection to the one thread that serves it).
struct HandOff<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
