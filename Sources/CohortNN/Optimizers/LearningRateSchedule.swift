#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A multiplier on the base learning rate as a function of the step (or epoch) number.
public indirect enum LearningRateSchedule: Sendable, Equatable {
    /// Always 1.
    case constant
    /// `gamma^(floor(step / every))`.
    case step(every: Int, gamma: Float)
    /// Cosine from 1 down to `floor` over `total` steps, then `floor`.
    case cosine(total: Int, floor: Float)
    /// Linear from 1/(warmup+1) up to 1 over `warmup` steps, then `then` (counted from the end of warm-up).
    case warmup(steps: Int, then: LearningRateSchedule)

    /// The multiplier at `step` (0-based).
    public func factor(at step: Int) -> Float {
        switch self {
        case .constant:
            return 1
        case let .step(every, gamma):
            precondition(every > 0, "step schedule needs every > 0")
            return powf(gamma, Float(step / every))
        case let .cosine(total, floor):
            guard total > 0, step < total else { return floor }
            return floor + (1 - floor) * 0.5 * (1 + cosf(Float.pi * Float(step) / Float(total)))
        case let .warmup(steps, then):
            if step < steps { return Float(step + 1) / Float(steps + 1) }
            return then.factor(at: step - steps)
        }
    }
}
