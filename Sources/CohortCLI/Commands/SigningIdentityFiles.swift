import CohortFederation
import CohortTransport
import Foundation

/// `cohort node --secagg-signing-key FILE --secagg-peers FILE`: the node's identity for secure
/// aggregation's consistency round (protocols/secure-aggregation.md, "Malicious coordinator").
/// The key file holds a 32-byte Ed25519 seed in hex; the peers file is JSON
/// `{"name": "hex public key", …}` for every node, this one included, obtained outside the
/// coordinator.
enum SigningIdentityFiles {
    static func load(name: String, keyPath: String, peersPath: String) throws -> SecureAggregation.Identity {
        guard let keyText = try? String(contentsOfFile: keyPath, encoding: .utf8) else { throw CommandError("cannot read signing key file '\(keyPath)'") }
        guard let seed = NodeSecrets.hexBytes(keyText.trimmingCharacters(in: .whitespacesAndNewlines)), seed.count == 32 else {
            throw CommandError("\(keyPath): a signing key is 32 bytes in hex (64 hex digits)")
        }
        guard let data = FileManager.default.contents(atPath: peersPath) else { throw CommandError("cannot read peers file '\(peersPath)'") }
        guard data.count <= 16 << 20, let table = try? JSONDecoder().decode([String: String].self, from: data) else {
            throw CommandError("\(peersPath): expected a JSON object {\"name\": \"hex public key\", …} of at most 16 MiB")
        }
        var peers: [String: [UInt8]] = [:]
        for (peer, hex) in table {
            guard let key = NodeSecrets.hexBytes(hex), key.count == 32 else { throw CommandError("\(peersPath): the public key of '\(peer)' is not 32 bytes in hex") }
            peers[peer] = key
        }
        do { return try SecureAggregation.Identity(name: name, seed: seed, peers: peers) } catch {
            throw CommandError("\(peersPath): \(error)")
        }
    }
}
