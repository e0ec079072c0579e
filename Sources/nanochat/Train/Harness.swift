// The harness every training stage runs on. nanochat's scripts each repeat this skeleton; here it is
// written once: the model and optimizer, fresh, from the previous stage or resumed (weights, optimizer
// state, metadata); the run folder's log.jsonl of typed records; the progress line; Ctrl-C (finish the
// step, save, stop with exit code 130); periodic evaluation and saving; and the divergence stop (a
// non-finite loss ends the run with an error and keeps the last good checkpoint). A stage file builds
// its data and supplies one step; see Train/Pretrain.swift and Train/RL.swift.

import Foundation

/// Where a stage's model comes from.
struct StageStart {
    var outDir: String  // this stage's folder: checkpoints and log.jsonl
    var resume = false  // continue from outDir's own checkpoint
    var from: String?  // else start from this checkpoint's weights (the previous stage) ...
    var warmOptimizer = false  // ... and its optimizer state
    var maxBatch: Int
    var seed: UInt64
    var hyper: OptimizerHyper
}

/// A stage's model and optimizer, loaded as `StageStart` says, with the checkpoint metadata it came from.
struct StageModel {
    let model: GPT
    let optimizer: Optimizer
    let meta: [String: String]  // empty for a fresh model
    var step: Int { Int(meta["step"] ?? "") ?? 0 }
}

/// Builds the model (`fresh` config unless a checkpoint says otherwise) and loads what `start` asks for,
/// checking that checkpoints were made with this tokenizer.
func openStage(_ start: StageStart, fresh: GPTConfig, tokenizer tok: Tokenizer) throws -> StageModel {
    let source = start.resume ? start.outDir : start.from
    var config = fresh
    if let source, start.from != nil { config = try Checkpoint.inspect(source).0 }
    try config.validate()
    guard config.vocabSize == tok.vocabSize else {
        throw UserError(
            "\(source ?? start.outDir) has a \(config.vocabSize)-token vocab but the tokenizer has "
                + "\(tok.vocabSize); use the tokenizer of the same run (--out)"
        )
    }
    let model = GPT(config: config, maxBatch: start.maxBatch, seed: start.seed)
    let opt = Optimizer(model: model, hyper: start.hyper)
    guard let source else { return StageModel(model: model, optimizer: opt, meta: [:]) }
    let meta = try Checkpoint.load(
        into: model, optimizer: start.resume || start.warmOptimizer ? opt : nil, from: source)
    guard meta["tokenizer_hash"] == nil || meta["tokenizer_hash"] == tok.hash else {
        throw UserError(
            start.resume
                ? "\(source) was trained with another tokenizer (hash \(meta["tokenizer_hash"] ?? "none"), now "
                    + "\(tok.hash)); start fresh without --resume"
                : "\(source) was trained with another tokenizer; retrain it with this run's tokenizer")
    }
    return StageModel(model: model, optimizer: opt, meta: meta)
}

/// How often the loop evaluates and saves (0 = only at the end), and the test hook for Ctrl-C.
struct StageSchedule {
    var evalEvery: Int
    var saveEvery: Int
    var stopAfterStep: Int?  // tests: behave as if Ctrl-C came during this step
}

final class StageHarness {
    let name: String  // in messages: "base-train", "mid", "chat-rl", ...
    let outDir: String
    let quiet: Bool
    let log: LogWriter
    /// Optimizer steps done (a resumed stage sets it from its checkpoint before `run`).
    var step = 0
    var progress = ProgressLine()
    let start = now()

    /// Opens the stage's folder and log: emptied for a fresh run, appended to when resuming.
    init(name: String, outDir: String, resume: Bool, quiet: Bool) throws {
        self.name = name
        self.outDir = outDir
        self.quiet = quiet
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        log = try LogWriter(path: outDir + "/log.jsonl", fresh: !resume)
    }

    /// A line above the progress line (nothing when quiet).
    func say(_ s: String) { if !quiet { progress.log(s) } }

    /// Seconds since this run of the stage started, to 10 ms (the log's `time`).
    var elapsed: Double { ((now() - start) * 100).rounded() / 100 }

    /// The loop. While `more()`: `step()` runs one optimizer step of the stage and returns its loss; a
    /// non-finite loss stops the run with an error (the last good checkpoint stays); then `after(loss)`
    /// logs and shows progress; then each `periodic` action runs every `every` steps and at the last;
    /// then Ctrl-C (or `stopAfterStep`) saves and stops, or the checkpoint is saved every `saveEvery`
    /// steps and at the last. Returns whether the run was interrupted.
    func run(
        more: () -> Bool, isLast: () -> Bool, schedule: StageSchedule, divergenceHint: String,
        body: () throws -> Float, after: (Float) -> Void,
        periodic: [(every: Int, action: () throws -> Void)], save: () throws -> Void
    ) throws -> Bool {
        installStopHandler()
        defer {
            progress.finish()
            stopRequested = 0
        }
        while more() {
            let loss = try body()
            guard loss.isFinite else {
                progress.finish()
                throw UserError(
                    "the loss became \(loss) at step \(step + 1): training diverged. The last good checkpoint "
                        + "in \(outDir) is kept; \(divergenceHint)")
            }
            step += 1
            after(loss)
            let last = isLast()
            for (every, action) in periodic where every > 0 && (step % every == 0 || last) { try action() }
            if stopRequested != 0 || step == schedule.stopAfterStep {
                try save()
                progress.finish()
                say("\(name): interrupted at step \(step); checkpoint saved to \(outDir). Continue with --resume.")
                return true
            }
            if last || (schedule.saveEvery > 0 && step % schedule.saveEvery == 0) { try save() }
        }
        return false
    }
}
