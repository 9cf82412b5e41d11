import Foundation
import XCTest
@testable import CohortTransport

/// The metrics registry's text format, its checks, and the HTTP endpoint over loopback.
final class MetricsTests: XCTestCase {
    func testRegistryRendersCountersGaugesAndCumulativeHistogramBuckets() throws {
        let r = MetricsRegistry()
        let c = try r.counter("jobs_total", help: "Jobs done.\nSecond line \\ here")
        let byReason = try r.counter("drops_total", help: "Drops.", labels: ["reason"], initial: [["timeout"], ["late"]])
        let g = try r.gauge("temperature", help: "Now.")
        let unset = try r.gauge("unset_gauge", help: "Never set.")
        let h = try r.histogram("latency_seconds", help: "Latency.", bounds: [0.5, 1, 2.5])
        try c.increment(); try c.increment(by: 2)
        try byReason.increment(labels: ["late"])
        try byReason.increment(by: 3, labels: ["say \"hi\"\n\\"])
        g.set(-1.5)
        for x in [0.1, 0.5, 0.7, 3.0] { try h.observe(x) }
        XCTAssertEqual(r.render(), """
        # HELP jobs_total Jobs done.\\nSecond line \\\\ here
        # TYPE jobs_total counter
        jobs_total 3
        # HELP drops_total Drops.
        # TYPE drops_total counter
        drops_total{reason="timeout"} 0
        drops_total{reason="late"} 1
        drops_total{reason="say \\"hi\\"\\n\\\\"} 3
        # HELP temperature Now.
        # TYPE temperature gauge
        temperature -1.5
        # HELP unset_gauge Never set.
        # TYPE unset_gauge gauge
        # HELP latency_seconds Latency.
        # TYPE latency_seconds histogram
        latency_seconds_bucket{le="0.5"} 2
        latency_seconds_bucket{le="1"} 3
        latency_seconds_bucket{le="2.5"} 3
        latency_seconds_bucket{le="+Inf"} 4
        latency_seconds_sum 4.3
        latency_seconds_count 4

        """)
        XCTAssertEqual(unset.value, nil)
        g.track { 7 }
        XCTAssertEqual(g.value, 7)
        XCTAssertTrue(r.render().contains("temperature 7\n"))
    }

    func testValuesUseThePrometheusSpellings() {
        XCTAssertEqual(PrometheusFormat.value(.infinity), "+Inf")
        XCTAssertEqual(PrometheusFormat.value(-.infinity), "-Inf")
        XCTAssertEqual(PrometheusFormat.value(.nan), "NaN")
        XCTAssertEqual(PrometheusFormat.value(42), "42")
        XCTAssertEqual(PrometheusFormat.value(1e20), "1e+20")
        XCTAssertEqual(PrometheusFormat.value(0.25), "0.25")
    }

    func testBadNamesDuplicatesAndBadUpdatesAreErrors() throws {
        let r = MetricsRegistry()
        XCTAssertThrowsError(try r.counter("1starts_with_digit", help: ""))
        XCTAssertThrowsError(try r.counter("has-dash", help: ""))
        XCTAssertThrowsError(try r.counter("ok_total", help: "", labels: ["bad-label"]))
        XCTAssertThrowsError(try r.counter("ok_total", help: "", labels: ["__reserved"]))
        XCTAssertThrowsError(try r.counter("ok_total", help: "", labels: ["le"]))
        XCTAssertThrowsError(try r.counter("ok_total", help: "", labels: ["a"], initial: [["x", "y"]]))
        XCTAssertThrowsError(try r.histogram("h", help: "", bounds: [1, 1]))
        XCTAssertThrowsError(try r.histogram("h", help: "", bounds: [1, .infinity]))
        XCTAssertThrowsError(try r.histogram("h", help: "", bounds: []))
        let c = try r.counter("ok_total", help: "", labels: ["a"])
        XCTAssertThrowsError(try r.gauge("ok_total", help: ""), "duplicate name")
        XCTAssertThrowsError(try c.increment(by: -1, labels: ["x"]))
        XCTAssertThrowsError(try c.increment(by: .nan, labels: ["x"]))
        XCTAssertThrowsError(try c.increment(labels: []))
        XCTAssertEqual(c.value(labels: ["x"]), 0, "failed increments change nothing")
        let h = try r.histogram("h_seconds", help: "", bounds: [1])
        XCTAssertThrowsError(try h.observe(.infinity))
        XCTAssertEqual(h.snapshot.count, 0)
        XCTAssertEqual(r.render().components(separatedBy: "# TYPE").count - 1, 2, "only the two good metrics are registered")
    }

    func testCoordinatorHooksMoveTheNamedSeries() throws {
        let m = try CoordinatorMetrics(plannedRounds: 5)
        XCTAssertFalse(m.ready)
        m.restored(rounds: 2, epsilon: 0.5, lastWrite: 100)
        m.coordinatorStarted { 3 }
        XCTAssertTrue(m.ready)
        m.roundJournaled(round: 3, seconds: 0.3, accepted: 2, bytesUp: 1000, bytesDown: 4000, epsilon: 0.75, at: 200)
        m.updateRejected(.timeout)
        m.updateRejected(.late)
        m.updateRejected(.late)
        let text = m.registry.render()
        for line in ["cohort_rounds_completed 3", "cohort_rounds_planned 5", "cohort_connected_nodes 3", "cohort_updates_accepted_total 2",
                     "cohort_updates_rejected_total{reason=\"timeout\"} 1", "cohort_updates_rejected_total{reason=\"late\"} 2",
                     "cohort_updates_rejected_total{reason=\"invalid\"} 0", "cohort_updates_rejected_total{reason=\"not_connected\"} 0",
                     "cohort_bytes_up_total 1000", "cohort_bytes_down_total 4000", "cohort_privacy_epsilon_spent 0.75",
                     "cohort_last_journal_write_timestamp_seconds 200", "cohort_round_duration_seconds_bucket{le=\"0.25\"} 0",
                     "cohort_round_duration_seconds_bucket{le=\"0.5\"} 1", "cohort_round_duration_seconds_count 1"] {
            XCTAssertTrue(text.contains(line + "\n"), "missing '\(line)' in\n\(text)")
        }
    }

    // MARK: the HTTP endpoint

    private func get(_ port: UInt16, _ request: String) throws -> (status: String, headers: String, body: String) {
        let s = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 5)
        defer { s.close() }
        try s.write(Array(request.utf8), timeout: 5)
        var bytes: [UInt8] = []
        while let b = try? s.read(exactly: 1, timeout: 5) { bytes += b }
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        return (String(head.split(separator: "\r\n").first ?? ""), head, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    func testEndpointServesMetricsHealthAndReadiness() throws {
        let metrics = try CoordinatorMetrics(plannedRounds: 2)
        let server = try MetricsServer(host: "127.0.0.1", port: 0, registry: metrics.registry, ready: { metrics.ready })
        server.start()
        defer { server.stop() }
        let notReady = try get(server.port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(notReady.status, "HTTP/1.1 503 Service Unavailable")
        XCTAssertEqual(try get(server.port, "GET /healthz HTTP/1.0\r\n\r\n").status, "HTTP/1.1 200 OK")
        metrics.coordinatorStarted { 1 }
        XCTAssertEqual(try get(server.port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").status, "HTTP/1.1 200 OK")
        let scrape = try get(server.port, "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n")
        XCTAssertEqual(scrape.status, "HTTP/1.1 200 OK")
        XCTAssertTrue(scrape.headers.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"), scrape.headers)
        XCTAssertTrue(scrape.headers.contains("Content-Length: \(scrape.body.utf8.count)"), scrape.headers)
        XCTAssertEqual(scrape.body, metrics.registry.render())
        XCTAssertTrue(scrape.body.contains("cohort_connected_nodes 1\n"))
        XCTAssertEqual(try get(server.port, "GET /other HTTP/1.1\r\n\r\n").status, "HTTP/1.1 404 Not Found")
        XCTAssertEqual(try get(server.port, "POST /metrics HTTP/1.1\r\n\r\n").status, "HTTP/1.1 405 Method Not Allowed")
        XCTAssertEqual(try get(server.port, "garbage\r\n\r\n").status, "HTTP/1.1 400 Bad Request")
        // A head of exactly the limit with no blank line: refused (all of it read, so no reset).
        let prefix = "GET /metrics HTTP/1.1\r\nX: "
        let huge = prefix + String(repeating: "a", count: MetricsServer.maxRequestHead - prefix.utf8.count)
        XCTAssertEqual(try get(server.port, huge).status, "HTTP/1.1 400 Bad Request")
        // A client that sends nothing is cut off after the request timeout; the endpoint still answers.
        let silent = try TCPSocket.connect(host: "127.0.0.1", port: server.port, timeout: 5)
        defer { silent.close() }
        XCTAssertEqual(try get(server.port, "GET /healthz HTTP/1.1\r\n\r\n").status, "HTTP/1.1 200 OK")
    }

    /// Stalled clients (silent, half a request head, more than the connection cap) cost only
    /// their own connections: a scrape made while they are all held is answered (each read
    /// below allows 5 s; the old one-at-a-time endpoint gave each stalled client its 2 s in
    /// turn, 10 s or more before the scrape). Past the cap the oldest connection is closed.
    func testStalledClientsDoNotHoldUpAScrape() throws {
        let metrics = try CoordinatorMetrics(plannedRounds: 2)
        metrics.coordinatorStarted { 3 }
        let server = try MetricsServer(host: "127.0.0.1", port: 0, registry: metrics.registry, ready: { metrics.ready })
        server.start()
        defer { server.stop() }
        var stalled: [TCPSocket] = []
        defer { stalled.forEach { $0.close() } }
        for i in 0..<(MetricsServer.maxConnections + 4) {
            let s = try TCPSocket.connect(host: "127.0.0.1", port: server.port, timeout: 5)
            if i % 2 == 1 { try s.write(Array("GET /metrics HTTP/1.1\r\nHost:".utf8), timeout: 1) }
            stalled.append(s)
        }
        let scrape = try get(server.port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(scrape.status, "HTTP/1.1 200 OK")
        XCTAssertEqual(scrape.body, metrics.registry.render())
        XCTAssertTrue(scrape.body.contains("cohort_connected_nodes 3\n"))
        // The first stalled connections were closed to keep within the cap; the last are held.
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertFalse(stalled[0].isOpen)
        XCTAssertTrue(stalled[stalled.count - 1].isOpen)
        // A request head split over several writes is answered too.
        let split = try TCPSocket.connect(host: "127.0.0.1", port: server.port, timeout: 5)
        defer { split.close() }
        try split.write(Array("GET /healthz HTTP/1.1\r\n".utf8), timeout: 1)
        Thread.sleep(forTimeInterval: 0.05)
        try split.write(Array("Host: x\r\n\r\n".utf8), timeout: 1)
        var bytes: [UInt8] = []
        while let b = try? split.read(exactly: 1, timeout: 5) { bytes += b }
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasSuffix("\r\n\r\nok\n"))
    }

    func testEndOfHeadFindsTheFirstBlankLine() {
        XCTAssertNil(MetricsServer.endOfHead(Array("GET / HTTP/1.1\r\nX: y\r\n".utf8)))
        XCTAssertEqual(MetricsServer.endOfHead(Array("GET / HTTP/1.1\r\n\r\nbody".utf8)), 18)
        XCTAssertEqual(MetricsServer.endOfHead(Array("GET / HTTP/1.0\n\nbody".utf8)), 16)
        XCTAssertNil(MetricsServer.endOfHead([10]))
    }
}
