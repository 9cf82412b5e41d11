// swift-tools-version: 6.0
// libFuzzer harnesses for Cohort's parsers of untrusted input (see fuzz/README.md).
//
// A package of its own, so the root package's `swift build` and `swift test` never see these
// targets: they have no `main` (libFuzzer supplies it) and link only with `--sanitize=fuzzer`.
// Build and run them with `scripts/fuzz.sh TARGET SECONDS` (from the repository root).
import PackageDescription

// The root package, by path. SwiftPM names a path dependency after its directory, which is
// whatever the checkout is called (`main`, a worktree name, ...), so read it from the path.
let rootIdentity = Context.packageDirectory.split(separator: "/").dropLast(2).last.map(String.init) ?? "cohort"

func cohort(_ product: String) -> Target.Dependency { .product(name: product, package: rootIdentity) }

/// One libFuzzer executable per parser.
let harnesses: [(name: String, products: [String])] = [
    ("fuzz-frame", ["CohortTransport"]),
    ("fuzz-handshake", ["CohortTransport"]),
    ("fuzz-delta", ["CohortCheckpoint", "CohortTensor"]),
    ("fuzz-checkpoint", ["CohortCheckpoint", "CohortNN", "CohortTensor"]),
    ("fuzz-tensorfile", ["CohortData", "CohortNN", "CohortTensor"]),
    ("fuzz-safetensors", ["CohortCheckpoint", "CohortTensor"]),
    ("fuzz-csv", ["CohortData", "CohortNN", "CohortTensor"]),
    ("fuzz-model", ["CohortNN", "CohortTensor"]),
    ("fuzz-plan", ["CohortFederation", "CohortNN", "CohortCheckpoint"]),
]

let package = Package(
    name: "CohortFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [cohort("CohortTransport"), cohort("CohortCheckpoint"), cohort("CohortNN"), cohort("CohortTensor")]),
    ] + harnesses.map { h in
        .executableTarget(name: h.name, dependencies: ["FuzzSupport"] + h.products.map(cohort))
    }
)
