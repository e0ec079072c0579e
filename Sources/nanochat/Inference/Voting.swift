// Majority voting (self-consistency; Wang et al., 2022): sample N answers to a question, take each one's
// final answer, and answer with the most common. The oracle beside it is pass@N (right if any sample is).
// One of the inference-time scaling routes of DeepSeek-R1's taxonomy: more compute per question, the
// same weights.

import Foundation

/// The answer a response votes for: its final answer ("#### ..."), in the form the task's grader compares
/// (a number's value for arithmetic, so "1,000" and "1000.0" agree; lowercased text otherwise). nil when the
/// response has no final answer, or an arithmetic answer that is not a number: it abstains.
func votingKey(_ kind: TaskKind, _ response: String) -> String? {
    guard let a = finalAnswer(response), !a.isEmpty else { return nil }
    switch kind {
    case .arithmetic:
        guard let v = Double(a.replacingOccurrences(of: ",", with: "")), v.isFinite else { return nil }
        return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    case .spelling, .counting, .choice:
        return a.lowercased()
    }
}

/// The most common non-nil key, and how many votes it got. Ties go to the answer sampled first among
/// the tied ones (so the result does not depend on hashing). nil when every sample abstained.
func majorityVote(_ keys: [String?]) -> (answer: String, votes: Int)? {
    var counts: [String: Int] = [:], first: [String: Int] = [:]
    for (i, k) in keys.enumerated() {
        guard let k else { continue }
        counts[k, default: 0] += 1
        if first[k] == nil { first[k] = i }
    }
    guard let best = counts.max(by: { a, b in a.value != b.value ? a.value < b.value : first[a.key]! > first[b.key]! })
    else { return nil }
    return (best.key, best.value)
}

/// Whether the majority of `responses` is right for `example` (no votes: wrong).
func majorityIsRight(_ example: TaskExample, _ responses: [String]) -> Bool {
    guard let vote = majorityVote(responses.map { votingKey(example.kind, $0) }) else { return false }
    return grade(example, response: "#### " + vote.answer)
}

/// The vote sizes chat-eval reports from N samples per question: 4, 8, 16, ... below N, and N. maj@k takes
/// the first k samples, so one run of N gives every smaller vote as well (samples are independent draws).
func voteSizes(_ n: Int) -> [Int] {
    Array(sequence(first: 4) { $0 * 2 }.prefix { $0 < n }) + [n]
}

/// maj@k for each k of `sizes`: how many questions the vote of their first k responses gets right.
func majorityRight(_ tests: [TaskExample], _ responses: [[String]], sizes: [Int]) -> [Int] {
    sizes.map { k in zip(tests, responses).filter { majorityIsRight($0, Array($1.prefix(k))) }.count }
}
