import CohortBench
import Foundation
let r = GemmBenchmark.run(threads: [1, 2], seconds: 0.5, repeats: 3) { print($0) }
_ = r
