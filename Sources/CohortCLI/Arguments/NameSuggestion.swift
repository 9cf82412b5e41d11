/// Finds a declared name close to a mistyped one, for "did you mean" hints.
enum NameSuggestion {
    /// The candidate with the smallest edit distance to `typed`, if that distance is small
    /// (at most 1 for names up to 4 characters, else at most 2), or the unique candidate that
    /// starts with `typed` when `typed` has at least 3 characters. Ties go to the earlier candidate.
    static func closest(to typed: String, among candidates: [String]) -> String? {
        guard !typed.isEmpty else { return nil }
        var best: (name: String, distance: Int)? = nil
        for candidate in candidates {
            let distance = editDistance(typed, candidate)
            let limit = max(typed.count, candidate.count) <= 4 ? 1 : 2
            if distance <= limit, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        if let best { return best.name }
        let prefixed = candidates.filter { $0.hasPrefix(typed) }
        return typed.count >= 3 && prefixed.count == 1 ? prefixed[0] : nil
    }

    /// Edit distance counting insertions, deletions, substitutions and swaps of two
    /// adjacent characters (optimal string alignment), so `hlep` is one edit from `help`.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        // d[i][j] = distance between the first i characters of a and the first j of b.
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
