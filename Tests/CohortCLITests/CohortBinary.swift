import Foundation

/// The `cohort` executable that `swift test` built next to the test bundle.
enum CohortBinary {
    static let url: URL = {
        // Secrets and keys must be private to their owner (the coordinator and node refuse
        // others, as ssh does): the files the tests write are, as an operator's would be.
        umask(0o077)
        var dir = Bundle(for: BundleAnchor.self).bundleURL
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("cohort")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: "/nonexistent/cohort")
    }()

    private final class BundleAnchor {}
}
