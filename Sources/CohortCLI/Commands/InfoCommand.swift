import COpenSSL
import CohortTensor
import CZlib
import Foundation

/// `cohort info`: what this build links and runs on, for bug reports.
enum InfoCommand {
    static let spec = CommandSpec(
        ["info"], summary: "Print the build, the system libraries it links (zlib, OpenSSL) and the threads it uses.",
        options: [.flag("json", help: "Print as JSON.")])

    struct Info: Codable {
        var cohort: String
        var zlib: String
        var openssl: String
        var kernelTarget = "x86-64-v3 (AVX2 + FMA)"
        var processors: Int
        var workerThreads: Int
    }

    static func collect() -> Info {
        Info(cohort: CohortTool.version,
             zlib: String(cString: zlibVersion()),
             openssl: String(cString: OpenSSL_version(Int32(OPENSSL_VERSION))),
             processors: ProcessInfo.processInfo.activeProcessorCount,
             workerThreads: WorkerPool.shared.width)
    }

    static func run(_ command: ParsedCommand) throws {
        let info = collect()
        if command.flag("json") { print(try Terminal.json(info)); return }
        print("""
        cohort \(info.cohort)
        zlib \(info.zlib)
        \(info.openssl)
        kernels built for \(info.kernelTarget)
        \(info.processors) processors, \(info.workerThreads) kernel threads
        """)
    }
}
