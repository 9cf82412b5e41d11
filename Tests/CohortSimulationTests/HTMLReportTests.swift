import CohortSimulation
import Foundation
import XCTest

final class HTMLReportTests: XCTestCase {
    func testEverySVGBlockIsWellFormedXML() throws {
        let html = ReportWriter.html(SampleResults.make())
        let blocks = TestHelpers.svgBlocks(html)
        XCTAssertEqual(blocks.count, 4, "accuracy bars, rounds lines, bytes bars, shift scatter")
        for block in blocks {
            XCTAssertNil(TestHelpers.xmlError(block), String(block.prefix(200)))
        }
    }

    func testCrowdedAndMinimalRunsAreWellFormed() throws {
        for (results, charts) in [(SampleResults.crowded(), 4), (SampleResults.minimal(), 2)] {
            let html = ReportWriter.html(results)
            let blocks = TestHelpers.svgBlocks(html)
            XCTAssertEqual(blocks.count, charts, results.title)
            for block in blocks { XCTAssertNil(TestHelpers.xmlError(block), results.title) }
            // Pattern ids (hatched fills once the palette repeats) are unique across the page.
            let ids = blocks.flatMap { TestHelpers.elements("pattern", in: $0).compactMap { $0["id"] } }
            XCTAssertEqual(Set(ids).count, ids.count)
        }
        // The crowded run has 10 arms: the ninth and tenth reuse colours, so their bars are hatched.
        let bars = TestHelpers.elements("rect", in: TestHelpers.svgBlocks(ReportWriter.html(SampleResults.crowded()))[0])
        XCTAssertTrue(bars.contains { $0["data-arm"] == "scaffold" && $0["fill"]?.hasPrefix("url(#") == true })
        XCTAssertTrue(bars.contains { $0["data-arm"] == "fedavg" && $0["fill"]?.hasPrefix("#") == true })
        XCTAssertFalse(bars.contains { $0["data-arm"] == "fedprox" }, "a failed arm has no bars")
    }

    func testNamesAreEscapedEverywhere() throws {
        let nasty = "a<b&\"c"
        var results = SampleResults.make(rounds: 3, siteNames: ["plain", nasty])
        results.arms[2].name = "fed<avg>&'x'"
        results.settings["codec <b>"] = "q8 & \"zlib\""
        results.arms[3].failed = "boom <script>alert(1)</script>"
        results.title = "Run <1> & co"
        let html = ReportWriter.html(results)

        XCTAssertFalse(html.contains(nasty), "the raw site name must not appear")
        XCTAssertFalse(html.contains("fed<avg>"))
        XCTAssertFalse(html.contains("<script>"))
        XCTAssertFalse(html.contains("<b>"))
        XCTAssertTrue(html.contains("a&lt;b&amp;&quot;c"))
        XCTAssertTrue(html.contains("fed&lt;avg&gt;&amp;&#39;x&#39;"))
        XCTAssertTrue(html.contains("boom &lt;script&gt;alert(1)&lt;/script&gt;"), "failed arm's error is shown")
        for arm in results.arms {
            XCTAssertTrue(html.contains(">\(escape(arm.name))<"), "arm \(arm.name) appears as text")
        }
        for site in results.sites {
            XCTAssertTrue(html.contains(">\(escape(site.name))<"), "site \(site.name) appears as text")
        }
        for block in TestHelpers.svgBlocks(html) {
            XCTAssertNil(TestHelpers.xmlError(block))
        }
        // The XML parser unescapes attributes: the bars carry the exact names.
        let bars = TestHelpers.svgBlocks(html).flatMap { TestHelpers.elements("rect", in: $0) }
        XCTAssertTrue(bars.contains { $0["data-site"] == nasty && $0["data-arm"] == "fed<avg>&'x'" })
    }

    func testNoExternalResourcesOrScripts() {
        let html = ReportWriter.html(SampleResults.make(rounds: 2))
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("http://") && html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        XCTAssertFalse(html.contains("https://"))
        XCTAssertFalse(html.contains("<link"))
    }

    func testBarHeightsAreProportionalToValues() throws {
        var results = SampleResults.make(rounds: 2)
        let site = results.sites[1].name
        results.arms[0].perSite[1].accuracy = 0.25
        results.arms[1].perSite[1].accuracy = 0.75
        results.arms[6].perSite[1].accuracy = 1.0
        let chart = try XCTUnwrap(TestHelpers.svgBlocks(ReportWriter.html(results)).first)
        let rects = TestHelpers.elements("rect", in: chart)
        func bar(_ arm: String) throws -> (height: Double, bottom: Double) {
            let r = try XCTUnwrap(rects.first { $0["data-arm"] == arm && $0["data-site"] == site })
            let height = try XCTUnwrap(Double(r["height"] ?? ""))
            return (height, height + (try XCTUnwrap(Double(r["y"] ?? ""))))
        }
        let quarter = try bar("source-only"), threeQuarters = try bar("local-only"), full = try bar("pooled")
        XCTAssertGreaterThan(full.height, 100)
        XCTAssertEqual(quarter.height / full.height, 0.25, accuracy: 0.001)
        XCTAssertEqual(threeQuarters.height / full.height, 0.75, accuracy: 0.001)
        XCTAssertEqual(quarter.bottom, full.bottom, accuracy: 0.01, "bars share the zero baseline")
        // 7 arms × (4 sites + mean) bars.
        XCTAssertEqual(rects.filter { $0["class"] == "bar" }.count, 7 * 5)
    }

    func testMissingDataRendersGracefully() throws {
        var results = SampleResults.make(rounds: 1)
        results.shift = nil
        results.arms[2].perSite[0].accuracy = .nan
        results.arms[3].failed = "out of memory"
        results.arms[3].perSite = []
        results.arms[3].rounds = []
        for i in results.arms.indices { results.arms[i].bytesUp = 0; results.arms[i].bytesDown = 0 }
        results.settings = [:]
        results.notes = []
        let html = ReportWriter.html(results)
        XCTAssertTrue(html.contains("No domain-shift view"))
        XCTAssertTrue(html.contains("No arm recorded any bytes"))
        XCTAssertTrue(html.contains("out of memory"))
        XCTAssertTrue(html.contains("fedprox (failed)"))
        XCTAssertTrue(html.contains("n/a"), "a NaN accuracy is marked, not drawn as a zero bar")
        let blocks = TestHelpers.svgBlocks(html)
        XCTAssertEqual(blocks.count, 2, "accuracy bars and the one-round chart; no bytes, no shift")
        for block in blocks { XCTAssertNil(TestHelpers.xmlError(block)) }
        let leak = try NSRegularExpression(pattern: "(?i)\\b(nan|inf|infinity)\\b")
        if let match = leak.firstMatch(in: html, range: NSRange(html.startIndex..., in: html)) {
            let context = (html as NSString).substring(with: NSRange(location: max(0, match.range.location - 60),
                                                                     length: min(80, match.range.location)))
            XCTFail("a non-finite number leaks into the HTML: \(context)")
        }

        // No federated arm at all: the per-round chart is replaced by a sentence.
        results.arms = results.arms.filter { !$0.federated }
        let plain = ReportWriter.html(results)
        XCTAssertTrue(plain.contains("No federated rounds were recorded"))
        for block in TestHelpers.svgBlocks(plain) { XCTAssertNil(TestHelpers.xmlError(block)) }
    }

    func testSummaryHighlightsBestPerColumn() throws {
        let results = SampleResults.make(rounds: 3)
        let html = ReportWriter.html(results)
        let best = results.arms.max { $0.meanAccuracy < $1.meanAccuracy }!
        let summary = try XCTUnwrap(html.components(separatedBy: "<table class=\"summary\">").dropFirst().first)
        let row = try XCTUnwrap(summary.components(separatedBy: "<tr>").first { $0.contains(">\(best.name)</th>") })
        let meanText = String(format: "%.1f%%", best.meanAccuracy * 100)
        XCTAssertTrue(row.contains("<td class=\"num best\">\(meanText)</td>"), row)
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }
}
