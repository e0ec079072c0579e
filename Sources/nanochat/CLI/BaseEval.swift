// `nanochat base-eval`: validation loss and bits per byte of a checkpoint, and samples
// (nanochat: scripts/base_eval.py, the bpb part).

import ArgumentParser
import Foundation

struct BaseEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "base-eval", abstract: "Loss and bpb on the validation shard (or --tokens FILE.bin), and samples.")

    @OptionGroup var opts: RunOptions
    @Option(help: "Checkpoint folder (default: OUT/base).") var checkpoint: String?
    @Option(help: "Token shard to evaluate (default: OUT/data/val.bin).") var tokens: String?
    @Option(help: "Tokens to evaluate (at most).") var maxTokens = 1 << 20
    @Option(help: "Rows per forward pass.") var batchSize = 8
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0.8
    @Option(help: "Sample from the k most likely tokens (0 = all).") var topK = 40
    @Option(help: "Seed for sampling.") var seed: UInt64 = 0
    @Option(help: "Tokens per sample.") var sampleTokens = 64
    @Option(name: .long, parsing: .upToNextOption, help: "Prompts to continue.") var prompt: [String] = samplePrompts

    func validate() throws {
        try validateCount(maxTokens, "--max-tokens", 1...(1 << 40))
        try validateCount(batchSize, "--batch-size", 1...4096)
        try validateCount(sampleTokens, "--sample-tokens", 0...100_000)
        try validateCount(topK, "--top-k", 0...(1 << 24))
        try validateRate(temperature, "--temperature", 0...100)
    }

    func run() throws {
        try runReportingErrors {
            let loaded = try loadModel(out: opts.out, stage: .base, checkpoint: checkpoint, maxBatch: batchSize)
            let model = loaded.model, tok = loaded.tokenizer, dir = loaded.dir, meta = loaded.meta,
                config = model.config
            let path = tokens ?? opts.out + "/data/val.bin"
            let shard = try TokenShard.read(path, vocabSize: tok.vocabSize)
            guard shard.count > config.sequenceLen else {
                throw UserError("\(path) has \(shard.count) tokens, fewer than one window of \(config.sequenceLen + 1)")
            }
            let t0 = now()
            let r = evaluateBPB(
                model, tokens: shard, tokenBytes: tokenByteCounts(tok), B: batchSize, T: config.sequenceLen,
                maxTokens: maxTokens)
            print("base-eval: \(dir) (step \(meta["step"] ?? "?"), \(config))")
            print(
                String(
                    format: "loss %.4f\nbpb %.4f\n(%d tokens of %@, %.1f s)", r.loss, r.bpb, r.tokens, path, now() - t0)
            )
            if r.loss.isFinite, r.bpb.isFinite {
                try appendBaseEval(
                    [
                        "step": Int(meta["step"] ?? "") ?? -1, "shard": path, "loss": r.loss, "bpb": r.bpb,
                        "tokens": r.tokens,
                    ], to: dir + "/base_eval.json")
            }
            for (k, p) in prompt.enumerated() {
                let ids = [tok.bosId] + tok.encode(p)
                let out = generateNaive(
                    model, prompt: ids, maxTokens: sampleTokens, temperature: temperature, topK: topK,
                    seed: seed &+ UInt64(k), stop: [tok.bosId])
                print("--- sample \(k + 1)\n" + p + tok.decode(out))
            }
        }
    }
}

/// Adds one evaluation to the checkpoint folder's base_eval.json (a JSON array, newest last), which
/// `nanochat report` reads. An unreadable old file is replaced.
func appendBaseEval(_ entry: [String: Any], to path: String) throws {
    let old =
        FileManager.default.contents(atPath: path).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [Any] }
        ?? []
    try writeAtomically(
        try JSONSerialization.data(withJSONObject: old + [entry], options: [.sortedKeys, .withoutEscapingSlashes]),
        to: path)
}
