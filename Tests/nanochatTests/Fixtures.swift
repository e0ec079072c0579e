// Shared helpers for the tests: fixture paths (read from the source tree, never made by Python at test
// time), temporary folders, and a small tokenizer trained once.

import Foundation
import XCTest
@testable import nanochat

enum Fixtures {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repoRoot = testsDir.deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ name: String) -> String { testsDir.appendingPathComponent("fixtures/" + name).path }

    /// The binary the CLI tests run: .build/release/nanochat (./run.sh test builds it), or $NANOCHAT_BIN
    /// (tools/mutate.py points it at its debug build).
    static let binary: URL = ProcessInfo.processInfo.environment["NANOCHAT_BIN"].map { URL(fileURLWithPath: $0) }
        ?? repoRoot.appendingPathComponent(".build/release/nanochat")

    static func json(_ name: String) throws -> Any {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
        return try JSONSerialization.jsonObject(with: data)
    }

    /// One folder per test process under the system temp dir; every tempDir lives inside it, and it is
    /// removed when the test bundle finishes (TempCleanup), so a run leaves nothing behind.
    static let tempRoot: String = {
        let root = NSTemporaryDirectory() + "nanochat-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        XCTestObservationCenter.shared.addTestObserver(TempCleanup(root))
        return root
    }()

    /// A fresh empty folder inside tempRoot.
    static func tempDir(_ tag: String = "t") -> String {
        let dir = tempRoot + "/\(tag)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Options for a tiny, quiet next-token stage (depth 1): no evaluation, no samples.
    static func tinyOptions(_ stage: Stage = .base, seqLen: Int, batchSize: Int = 2, totalBatch: Int, steps: Int,
                            saveEvery: Int) -> PretrainOptions {
        var o = PretrainOptions()
        o.stage = stage
        o.depth = 1
        o.seqLen = seqLen
        o.batchSize = batchSize
        o.totalBatchTokens = totalBatch
        o.steps = steps
        o.evalEvery = 0
        o.sampleEvery = 0
        o.saveEvery = saveEvery
        o.quiet = true
        return o
    }

    /// A tokenizer trained on the first 300 KB of the default corpus (vocab 1024), shared by tests.
    static let smallTokenizer: Tokenizer = {
        let corpus = try! Corpus.load([repoRoot.appendingPathComponent("data/shakespeare/train").path])
        let docs = [Array(corpus.documents.joined().prefix(300_000))]
        return Tokenizer(merges: trainBPE(countChunks(docs), numMerges: 1024 - 256 - specialTokenNames.count))
    }()
}

/// Asserts that `body` throws a UserError whose message contains every one of `fragments`.
func assertUserError(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
    } catch let e as UserError {
        for f in fragments where !e.message.contains(f) {
            XCTFail("error '\(e.message)' does not mention '\(f)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected a UserError, got \(error)", file: file, line: line)
    }
}

/// Removes the tests' temporary root when the bundle is done.
final class TempCleanup: NSObject, XCTestObservation {
    let root: String
    init(_ root: String) { self.root = root }
    func testBundleDidFinish(_ testBundle: Bundle) { try? FileManager.default.removeItem(atPath: root) }
}
