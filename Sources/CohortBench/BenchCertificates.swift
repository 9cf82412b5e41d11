import Foundation

/// A private CA and a coordinator certificate for 127.0.0.1, made with the `openssl` command
/// the way scripts/make-certs.sh makes them, for benchmarks that time TLS rounds.
enum BenchCertificates {
    /// Writes `dir`/ca.pem, ca.key, coordinator.pem and coordinator.key.
    static func make(in dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func f(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        let extensions = f("coordinator.ext")
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca.key"),
                     "-out", f("ca.pem"), "-days", "30", "-subj", "/CN=Cohort bench CA",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("coordinator.key"),
                     "-out", f("coordinator.csr"), "-subj", "/CN=127.0.0.1"])
        try openssl(["x509", "-req", "-in", f("coordinator.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial",
                     "-out", f("coordinator.pem"), "-days", "30", "-extfile", extensions])
        chmod(f("ca.key"), 0o600)
        chmod(f("coordinator.key"), 0o600)
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("openssl \(arguments.prefix(2).joined(separator: " ")) failed (status \(process.terminationStatus)); is openssl installed?")
        }
    }
}
