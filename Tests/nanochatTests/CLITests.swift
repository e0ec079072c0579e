// The binary as a user meets it: bad input gives a one-line error on stderr, exit status 1, and no crash
// trace. Runs .build/release/nanochat, which ./run.sh test builds before the tests.

import Foundation
import XCTest
@testable import nanochat

/// Runs .build/release/nanochat as a user would; the base of every test class that runs the binary.
class BinaryTestCase: XCTestCase {
    func nanochat(_ args: [String], input: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let bin = Fixtures.binary
        guard FileManager.default.isExecutableFile(atPath: bin.path) else {
            XCTFail("\(bin.path) is missing: build it with ./run.sh build (./run.sh test does)")
            return (-1, "", "")
        }
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        p.currentDirectoryURL = Fixtures.repoRoot
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        inp.fileHandleForWriting.write(Data((input ?? "").utf8))
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func assertCleanError(
        _ args: [String], _ fragment: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let r = try nanochat(args)
        XCTAssertNotEqual(r.status, 0, "\(args) should fail", file: file, line: line)
        XCTAssertTrue(
            r.stderr.contains(fragment), "stderr of \(args) lacks '\(fragment)': \(r.stderr)", file: file, line: line)
        XCTAssertFalse(
            r.stderr.contains("Fatal error") || r.stderr.contains("Stack dump"), "crash trace: \(r.stderr)", file: file,
            line: line)
    }

    /// A run folder with a 512-token tokenizer and a depth-1 base model (seq-len 32) trained for `steps`.
    func tinyRun(_ tag: String, steps: Int) throws -> String {
        let dir = Fixtures.tempDir(tag)
        XCTAssertEqual(
            try nanochat(["tok-train", "--input", "data/shakespeare/val", "--vocab-size", "512", "--out", dir]).status,
            0)
        let train = try nanochat([
            "base-train", "--out", dir, "--depth", "1", "--seq-len", "32", "--batch-size", "2",
            "--steps", "\(steps)", "--train", "data/shakespeare/val", "--val", "data/shakespeare/val",
            "--eval-every", "0", "--sample-every", "0",
        ])
        XCTAssertEqual(train.status, 0, train.stderr)
        return dir
    }

}

final class CLITests: BinaryTestCase {
    func testBadInputsGiveCleanErrors() throws {
        let empty = Fixtures.tempDir("cli")
        try assertCleanError(["tokenize", "--tokenizer", empty, "README.md"], "no tokenizer")
        try assertCleanError(["tok-train", "--input", empty + "/missing.txt", "--out", empty], "not found")
        try assertCleanError(["tok-train", "--vocab-size", "100", "--out", empty], "--vocab-size")
        try assertCleanError(["base-eval", "--out", empty], "no checkpoint")
        try assertCleanError(["base-train", "--steps", "0", "--out", empty], "--steps")
        try assertCleanError(["base-train", "--steps", "5", "--minutes", "1", "--out", empty], "at most one")
    }

    /// The ablation ladder's switches through the binary: a rung trains, its checkpoint names the switches,
    /// a resume without them is refused with the switch to give, and one with them continues.
    func testAblationRungTrainsAndResumesOnlyWithItsSwitches() throws {
        let dir = try tinyRun("ablation", steps: 1)
        let rung = [
            "base-train", "--out", dir, "--fresh", "--depth", "1", "--seq-len", "32", "--batch-size", "2",
            "--train", "data/shakespeare/val", "--val", "data/shakespeare/val", "--eval-every", "0",
            "--sample-every", "0", "--no-rotary", "--activation", "relu", "--matrix-optimizer", "adamw",
        ]
        let first = try nanochat(rung + ["--steps", "2"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("no rotary, relu"), first.stdout)
        let plain = Array(rung.prefix(while: { $0 != "--no-rotary" })).filter { $0 != "--fresh" }
        try assertCleanError(plain + ["--resume", "--steps", "3"], "ablation switches")
        try assertCleanError(
            plain + ["--resume", "--steps", "3", "--no-rotary", "--activation", "relu"], "--matrix-optimizer adamw")
        let resumed = try nanochat(rung.filter { $0 != "--fresh" } + ["--resume", "--steps", "3"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("base-train: done, 3 steps"), resumed.stdout)
    }

    /// Preference tuning's commands: missing pair files, a damaged pair file, a reward model that is not one,
    /// and options that go together.
    func testPreferenceCommandsGiveCleanErrors() throws {
        let dir = try tinyRun("prefcli", steps: 1)
        try assertCleanError(["chat-dpo", "--out", dir, "--from", dir + "/base"], "--pairs")
        try assertCleanError(["chat-dpo", "--out", dir, "--pairs", dir + "/none.jsonl"], "not found")
        let bad = dir + "/bad.jsonl"
        try Data("{\"prompt\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n".utf8).write(
            to: URL(fileURLWithPath: bad))
        try assertCleanError(["reward-train", "--out", dir, "--from", dir + "/base", "--pairs", bad], "line 1")
        try assertCleanError(["chat-dpo", "--out", dir, "--pairs", bad, "--beta", "0"], "--beta")
        try assertCleanError(
            ["chat-eval", "--out", dir, "--checkpoint", dir + "/base", "--best-of", "4"], "go together")
        try assertCleanError(
            [
                "chat-eval", "--out", dir, "--checkpoint", dir + "/base", "--tasks", "arithmetic", "--count", "1",
                "--best-of", "2", "--reward-model", dir + "/base",
            ], "not a reward model")
        try assertCleanError(
            ["pairs", "--out", dir, "--source", dir + "/base", "--samples", "1", "--output", dir + "/p.jsonl"],
            "--samples")
    }

    /// LoRA's options and commands: shape options without a rank, unknown layers, a folder that is not an
    /// adapter (a full checkpoint, or nothing). The working path runs in ./run.sh quick --lora.
    func testLoRACommandsGiveCleanErrors() throws {
        let dir = try tinyRun("loracli", steps: 1)
        try assertCleanError(["chat-sft", "--out", dir, "--lora-alpha", "4"], "give --lora-rank too")
        try assertCleanError(
            ["chat-sft", "--out", dir, "--lora-rank", "2", "--lora-targets", "q,wk"], "unknown LoRA target")
        try assertCleanError(["chat-rl", "--out", dir, "--lora-rank", "0"], "--lora-rank")
        try assertCleanError(["chat-eval", "--out", dir, "--adapter", dir + "/base"], "full checkpoint")
        try assertCleanError(["chat", "--out", dir, "--adapter", dir + "/none", "-p", "hi"], "not an adapter folder")
        try assertCleanError(
            ["lora-merge", "--out", dir, "--adapter", dir + "/none", "--out-dir", dir + "/m"], "not an adapter folder")
    }

    func testReasoningOptionsGiveCleanErrors() throws {
        let dir = Fixtures.tempDir("reasoncli")
        try assertCleanError(
            ["chat-rl", "--out", dir, "--accuracy-reward", "0", "--format-reward", "0"], "nothing would be rewarded")
        try assertCleanError(["chat-rl", "--out", dir, "--format-reward=-1"], "--format-reward must be a number")
        try assertCleanError(["chat-distill", "--out", dir, "--only-correct"], "needs --off-policy")
        try assertCleanError(["chat-distill", "--out", dir, "--exact-kl", "--clip", "5"], "drop --clip")
        try assertCleanError(["chat-distill", "--out", dir, "--off-policy", "--clip", "5"], "drop --clip")
        try assertCleanError(["chat-rl", "--out", dir, "--task", "poetry"], "--task must be one of arithmetic")
        try assertCleanError(["chat-eval", "--out", dir, "--votes", "1"], "--votes must be between 2 and 64")
    }

    func testTokenizeRoundTripThroughTheBinary() throws {
        let dir = Fixtures.tempDir("clitok")
        let t = try nanochat(["tok-train", "--input", "data/shakespeare/val", "--vocab-size", "512", "--out", dir])
        XCTAssertEqual(t.status, 0, t.stderr)
        let text = dir + "/x.txt"
        try "Friends, Romans, countrymen, lend me your ears;\n".write(toFile: text, atomically: true, encoding: .utf8)
        let r = try nanochat(["tokenize", "--out", dir, text])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ids = r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { Int($0)! }
        let tok = try Tokenizer.load(from: dir + "/tokenizer")
        XCTAssertEqual(tok.vocabSize, 512, "--vocab-size counts the merges, the bytes and the special tokens")
        XCTAssertEqual(tok.decode(ids), "Friends, Romans, countrymen, lend me your ears;\n")
        // A shard with a vocab too small for it.
        let bin = dir + "/x.bin"
        XCTAssertEqual(try nanochat(["tokenize", "--out", dir, text, "--bin", bin]).status, 0)
        try assertCleanError(["base-eval", "--out", dir, "--tokens", bin, "--checkpoint", dir], "no checkpoint")
    }

    func testBaseEvalReportsTheCheckpointsBPB() throws {
        let dir = try tinyRun("clibase", steps: 3)
        let r = try nanochat([
            "base-eval", "--out", dir, "--max-tokens", "512", "--sample-tokens", "3", "--prompt", "ROMEO:",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let value = { (key: String) -> Double? in
            r.stdout.split(separator: "\n").first { $0.hasPrefix(key + " ") }.flatMap {
                Double($0.dropFirst(key.count + 1))
            }
        }
        // The same evaluation in this process, from the files base-train wrote.
        let tok = try Tokenizer.load(from: dir + "/tokenizer")
        let (config, _) = try Checkpoint.inspect(dir + "/base")
        let model = GPT(config: config, maxBatch: 8)
        try Checkpoint.load(into: model, from: dir + "/base")
        let val = try TokenShard.read(dir + "/data/val.bin", vocabSize: tok.vocabSize)
        let want = evaluateBPB(model, tokens: val, tokenBytes: tokenByteCounts(tok), B: 8, T: 32, maxTokens: 512)
        XCTAssertEqual(try XCTUnwrap(value("loss")), want.loss, accuracy: 1e-4)
        XCTAssertEqual(try XCTUnwrap(value("bpb")), want.bpb, accuracy: 1e-4)
        XCTAssertTrue(r.stdout.contains("--- sample 1\nROMEO:"), r.stdout)
        let saved =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/base/base_eval.json")))
            as? [[String: Any]]
        XCTAssertEqual(saved?.last?["step"] as? Int, 3)
        XCTAssertEqual(try XCTUnwrap(saved?.last?["bpb"] as? Double), want.bpb, accuracy: 1e-9)
    }

    func testScriptedChatSessionThroughAPipe() throws {
        let dir = try tinyRun("clichat", steps: 2)
        let script =
            "/help\nHello there\n/tokens\n/temperature 0\n/topk x\n/bogus\nAnd again\n/reset\n"
            + "/votes 3 What is 2 plus 3?\n/votes 1 x\n"  // then EOF
        let r = try nanochat(["chat", "--out", dir, "--max-tokens", "5", "--verbose"], input: script)
        XCTAssertEqual(r.status, 0, r.stderr)
        for expected in [
            "loaded base checkpoint", "/temperature T", "<|user_start|>", "(temperature 0.0)",
            "(usage: /topk K", "(unknown command /bogus", "tokens/s)", "(conversation cleared)",
            "votes: ", "(usage: /votes N QUESTION",
        ] {
            XCTAssertTrue(r.stdout.contains(expected), "chat output lacks '\(expected)':\n\(r.stdout)")
        }
        XCTAssertFalse(r.stdout.contains("\u{1B}["), "no terminal escapes when piped")
        // One-shot, with the prompt from stdin.
        let one = try nanochat(["chat", "--out", dir, "-p", "-", "--max-tokens", "4"], input: "Hi\n")
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdout.hasPrefix("nanochat> "))
        try assertCleanError(["chat", "--checkpoint", dir + "/nonexistent", "--out", dir], "no checkpoint")
        try assertCleanError(["chat", "--out", Fixtures.tempDir("nochk")], "no checkpoint")
        try assertCleanError(["chat", "--source", "xyz", "--out", dir], "--source must be one of")
    }
}
