import XCTest
import CohortTransport

final class NodeSecretsTests: XCTestCase {
    let secret = NodeSecrets.hexBytes("000102030405060708090a0b0c0d0e0f")!

    func testHMACMatchesOpenSSLCommandLine() {
        // printf 'cohort-auth-v1\0site-a\0' + bytes 01 02 03, keyed with the secret above:
        // computed with `openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…0f`.
        let answer = NodeSecrets.response(secret: secret, node: "site-a", challenge: [1, 2, 3])
        XCTAssertEqual(answer.map { String(format: "%02x", $0) }.joined(), Self.opensslReference)
    }

    static let opensslReference = "c11a51a067d1c87953de20f404c39ce7661d9e00bf8f5218b5141ab1d0829bd9"

    func testAnswerIsBoundToChallengeNodeAndSecret() {
        let challenge = NodeSecrets.randomBytes(32)
        let answer = NodeSecrets.response(secret: secret, node: "site-a", challenge: challenge)
        XCTAssertTrue(NodeSecrets.verify(secret: secret, node: "site-a", challenge: challenge, answer: answer))
        XCTAssertFalse(NodeSecrets.verify(secret: secret, node: "site-b", challenge: challenge, answer: answer))
        XCTAssertFalse(NodeSecrets.verify(secret: secret, node: "site-a", challenge: NodeSecrets.randomBytes(32), answer: answer))
        var other = secret; other[0] ^= 1
        XCTAssertFalse(NodeSecrets.verify(secret: other, node: "site-a", challenge: challenge, answer: answer))
        XCTAssertFalse(NodeSecrets.verify(secret: secret, node: "site-a", challenge: challenge, answer: Array(answer.prefix(31))))
        XCTAssertNotEqual(NodeSecrets.randomBytes(32), NodeSecrets.randomBytes(32))
    }

    func testSecretsFilesParseWithLineNumberedErrors() throws {
        let ok = try NodeSecrets.parseSecretsFile("# sites\nsite-a 000102030405060708090a0b0c0d0e0f\n\nsite-b\tFFEEDDCCBBAA99887766554433221100\n", path: "s.txt")
        XCTAssertEqual(ok.keys.sorted(), ["site-a", "site-b"])
        XCTAssertEqual(ok["site-b"]?.first, 0xFF)
        func message(_ text: String) -> String {
            do { _ = try NodeSecrets.parseSecretsFile(text, path: "s.txt"); return "ok" } catch { return "\(error)" }
        }
        XCTAssertEqual(message("site-a 0011"), "s.txt:1: secret of 'site-a' has 2 bytes; at least 16 are required")
        XCTAssertEqual(message("\nsite-a zz"), "s.txt:2: secret of 'site-a' is not hex")
        XCTAssertEqual(message("site-a"), "s.txt:1: expected 'name secret-hex [expected-samples]', got 1 fields")
        XCTAssertEqual(message("a 000102030405060708090a0b0c0d0e0f\na 000102030405060708090a0b0c0d0e0f"), "s.txt:2: node 'a' is listed twice")
        XCTAssertEqual(try NodeSecrets.parseNodeSecret(" 000102030405060708090a0b0c0d0e0f\n", path: "k"), secret)
    }

    /// Issue 16 point 2: the optional third field is the node's expected sample count.
    func testASecretsLineMayGiveTheNodesExpectedSampleCount() throws {
        let text = "site-a 000102030405060708090a0b0c0d0e0f 1200\nsite-b 000102030405060708090a0b0c0d0e0f\n"
        let parsed = try NodeSecrets.parseSecretsFileEntries(text, path: "s.txt")
        XCTAssertEqual(parsed.secrets.keys.sorted(), ["site-a", "site-b"])
        XCTAssertEqual(parsed.expectedSamples, ["site-a": 1200])
        XCTAssertEqual(try NodeSecrets.parseSecretsFile(text, path: "s.txt").keys.sorted(), ["site-a", "site-b"])
        func message(_ field: String) -> String {
            do { _ = try NodeSecrets.parseSecretsFileEntries("site-a 000102030405060708090a0b0c0d0e0f \(field)", path: "s.txt"); return "ok" } catch {
                return "\(error)"
            }
        }
        for bad in ["0", "-5", "1e9", "12x", "1000000000001", "99999999999999999999999"] {
            XCTAssertEqual(message(bad), "s.txt:1: expected sample count of 'site-a' must be a whole number from 1 to 1000000000000, got '\(bad)'", bad)
        }
        XCTAssertEqual(message("1000000000000"), "ok")
        XCTAssertEqual(message("40 extra"), "s.txt:1: expected 'name secret-hex [expected-samples]', got 4 fields")
    }
}
