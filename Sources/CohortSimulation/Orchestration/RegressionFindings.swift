import Foundation

/// The report's notes for a regression run (a schema with a continuous target): computed from
/// the arms' MAE, RMSE and R², in place of the accuracy claims of `Findings`.
enum RegressionFindings {
    static func notes(_ arms: [ArmResult], sourceR2: Double) -> [String] {
        let done = arms.filter { $0.failed == nil && $0.meanR2.isFinite }
        var notes = [String(format: "Regression target: each arm's final model is scored by MAE and RMSE (the target's original units) and R² on every hospital's test rows; the source model's R² on the source domain's validation data is %.3f.", sourceR2)]
        if let best = done.max(by: { $0.meanR2 < $1.meanR2 }) {
            notes.append(String(format: "Best mean R²: %@ (R² %.3f, MAE %.4g, RMSE %.4g).", best.name, best.meanR2, best.meanMAE, best.meanRMSE))
        }
        if let source = done.first(where: { $0.name == SimulationArm.sourceOnly.rawValue }), let fedavg = done.first(where: { $0.name == SimulationArm.fedavg.rawValue }) {
            let holds = fedavg.meanMAE < source.meanMAE
            notes.append(String(format: "FedAvg lowers the mean MAE below source-only: %@ — %.4g vs %.4g.", holds ? "HOLDS" : "DOES NOT HOLD", fedavg.meanMAE, source.meanMAE))
        }
        return notes
    }
}
