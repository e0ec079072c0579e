// The harness every training stage runs on. nanochat's scripts each repeat this skeleton; here it is
// written once: the model and optimizer, fresh, from the previous stage or resumed (weights, optimizer
// state, metadata); the run folder's log.jsonl of typed records; the progress line; Ctrl-C, SIGTERM and
// SIGHUP (finish the step, save, stop with exit status 128 + the signal); periodic evaluation and saving;
// and the divergence stop (a non-finite loss, or non-finite weights at a save, end the run with an error
// and keep the last good checkpoint). A finished stage is never overwritten by accident: without
// --resume or --fresh an existing checkpoint is refused. A stage file builds its data and supplies one
// step; see Train/Pretrain.swift and Train/RL.swift.

import Foundation

/// Where a stage's model comes from.
struct StageStart {
    var outDir: String  // this stage's folder: checkpoints and log.jsonl
    var resume = false  // continue from outDir's own checkpoint
    var from: String?  // else start from this checkpoint's weights (the previous stage) ...
    var warmOptimizer = false  // ... and its optimizer state
    var fresh = false  // replace a checkpoint already in outDir (else one there is refused without --resume)
    var addScoreHead = false  // a reward model: `from` gains a score head, initialised to 0 (reward-train)
    var lora = LoRAStart()  // train low-rank adapters on frozen weights instead of every weight
    var maxBatch: Int
    var seed: UInt64
    var hyper: OptimizerHyper
}

/// An exclusive lock on a stage's folder (flock on OUT/<stage>/.lock), held while the stage runs, so that
/// two runs cannot write one folder at once. The file holds the holder's pid, for the message.
final class StageLock {
    private let fd: Int32

    init(_ dir: String) throws {
        try makeFolder(dir)
        let path = dir + "/.lock"
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw UserError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines)
            close(fd)
            throw UserError(
                "\(dir) is in use by another nanochat run (pid \(holder ?? "?")). Wait for it to finish, stop it, "
                    + "or train into another --out.")
        }
        removeStaleTemporaries(in: dir)  // the folder is ours now: no writer of those files is alive
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        self.fd = fd
    }

    deinit { close(fd) }  // closing the descriptor releases the lock
}

/// A stage's model and optimizer, loaded as `StageStart` says, with the checkpoint metadata it came from.
struct StageModel {
    let model: GPT
    let optimizer: Optimizer
    let lock: StageLock  // held as long as this value lives
    let meta: [String: String]  // empty for a fresh model
    /// Whether the optimizer state came from the checkpoint (a resume, or a warm start that could take it).
    var optimizerLoaded = false
    var step: Int { Int(meta["step"] ?? "") ?? 0 }
}

/// Builds the model (`fresh` config unless a checkpoint says otherwise) and loads what `start` asks for,
/// checking that checkpoints were made with this tokenizer.
func openStage(_ start: StageStart, fresh: GPTConfig, tokenizer tok: Tokenizer) throws -> StageModel {
    let lock = try StageLock(start.outDir)
    if !start.resume && !start.fresh && Checkpoint.exists(start.outDir) {
        let step = (try? Checkpoint.inspect(start.outDir).1["step"]) ?? nil
        throw UserError(
            "\(start.outDir) already holds a checkpoint (step \(step ?? "?")). Continue it with --resume, "
                + "replace it with --fresh, or train into another --out.")
    }
    if start.resume && !Checkpoint.exists(start.outDir) {
        throw UserError("no checkpoint in \(start.outDir) to resume: run the stage without --resume to start it")
    }
    if start.fresh {
        // The old checkpoint's evaluations would read as the new one's in the report.
        for stale in ["eval.jsonl", "base_eval.json"] {
            try? FileManager.default.removeItem(atPath: start.outDir + "/" + stale)
        }
    }
    let source = start.resume ? start.outDir : start.lora.adapter ?? start.from
    var config = fresh
    if let source, start.from != nil || start.lora.adapter != nil { config = try Checkpoint.inspect(source).0 }
    if start.addScoreHead { config.scoreHead = true }
    let plan = try LoRAPlan(start, source: source, sourceConfig: config)
    config.lora = plan.spec
    try config.validate()
    guard config.vocabSize == tok.vocabSize else {
        throw UserError(
            "\(source ?? start.outDir) has a \(config.vocabSize)-token vocab but the tokenizer has "
                + "\(tok.vocabSize); use the tokenizer of the same run (--out)"
        )
    }
    try GPT.checkFitsInMemory(config, maxBatch: start.maxBatch, training: true)
    let model = GPT(config: config, maxBatch: start.maxBatch, seed: start.seed)
    if let lora = config.lora { model.freeze { !lora.trains($0) } }  // before the optimizer: state for adapters only
    let opt = Optimizer(model: model, hyper: start.hyper)
    guard let source else { return StageModel(model: model, optimizer: opt, lock: lock, meta: [:]) }
    // A new adapter starts with fresh optimizer state, and so does a full fine-tune of a merged adapter.
    let warm = start.resume || (start.warmOptimizer && plan.sourceIsAdapter == (config.lora != nil))
    let meta: [String: String]
    if plan.merge {
        var adapted = config
        adapted.lora = plan.sourceSpec
        let m = GPT(config: adapted, maxBatch: 1)
        meta = try Checkpoint.load(into: m, from: source)
        model.params.update(from: m.merged(maxBatch: 1).params, count: model.numParams)
    } else {
        meta = try Checkpoint.load(
            into: model, optimizer: warm ? opt : nil, from: source,
            addingScoreHead: start.addScoreHead && !start.resume,
            addingAdapters: config.lora != nil && !plan.sourceIsAdapter)
        if config.lora != nil && !plan.sourceIsAdapter { model.adapterBase = try AdapterBase.of(source) }
    }
    guard meta["tokenizer_hash"] == nil || meta["tokenizer_hash"] == tok.hash else {
        throw UserError(
            start.resume
                ? "\(source) was trained with another tokenizer (hash \(meta["tokenizer_hash"] ?? "none"), now "
                    + "\(tok.hash)); start fresh without --resume"
                : "\(source) was trained with another tokenizer; retrain it with this run's tokenizer")
    }
    return StageModel(model: model, optimizer: opt, lock: lock, meta: meta, optimizerLoaded: warm && !plan.merge)
}

/// Opens a stage that starts from the checkpoint `from` (or resumes `outDir`) with its own optimizer, for
/// batches of `rows`, and refuses a resume that has no steps left before `steps`.
func openFromCheckpoint(
    _ start: StageStart, steps: Int, tokenizer tok: Tokenizer
) throws -> StageModel {
    let source = start.resume ? start.outDir : start.from ?? start.outDir
    let loaded = try openStage(start, fresh: try Checkpoint.inspect(source).0, tokenizer: tok)
    guard !start.resume || steps > loaded.step else {
        throw UserError(
            "\(start.outDir) is at step \(loaded.step) already; to train further, resume with --steps above "
                + "\(loaded.step)")
    }
    return loaded
}

/// The total steps of a resumed run: `--steps` when given, else the total saved in the checkpoint, else
/// the default.
func totalSteps(given: Int?, default d: Int, resume: Bool, dir: String) -> Int {
    if let given { return given }
    guard resume, let saved = try? Checkpoint.inspect(dir).1["total_steps"].flatMap({ Int($0) }) else { return d }
    return saved
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
    let model: GPT
    let log: LogWriter
    /// Optimizer steps done (a resumed stage sets it from its checkpoint before `run`).
    var step = 0
    var progress = ProgressLine()
    let start = now()

    /// Opens the stage's folder and log: emptied for a fresh run; when resuming from `step`, cut back to the
    /// records of steps up to it (a run stopped after its last save logged steps that will run again).
    init(name: String, outDir: String, model: GPT, resumeFrom step: Int?, quiet: Bool) throws {
        self.name = name
        self.outDir = outDir
        self.quiet = quiet
        self.model = model
        self.step = step ?? 0
        try makeFolder(outDir)
        log = try LogWriter(path: outDir + "/log.jsonl", fresh: step == nil, keepThrough: step)
        if let lora = model.config.lora {
            let trained = model.tensors.filter(\.trainable).reduce(0) { $0 + $1.count }
            say(
                String(
                    format: "%@: %@: training %d of %d parameters (%.2f%%); the rest are frozen", name,
                    "\(lora)", trained, model.numParams, 100 * Double(trained) / Double(model.numParams)))
        }
    }

    /// A line above the progress line (nothing when quiet).
    func say(_ s: String) { if !quiet { progress.log(s) } }

    /// Seconds since this run of the stage started, to 10 ms (the log's `time`).
    var elapsed: Double { ((now() - start) * 100).rounded() / 100 }

    /// The loop. While `more()`: `step()` runs one optimizer step of the stage and returns its loss; a
    /// non-finite loss stops the run with an error (the last good checkpoint stays); then `after(loss)`
    /// logs and shows progress; then each `periodic` action runs every `every` steps and at the last;
    /// then a stop signal (or `stopAfterStep`) saves and stops, or the checkpoint is saved every
    /// `saveEvery` steps and at the last. Weights that are not all finite are never saved: the run stops
    /// with the divergence error instead. Returns the exit status to stop with (128 + the signal; 130
    /// for `stopAfterStep`), or nil when the stage ran to its end.
    func run(
        more: () -> Bool, isLast: () -> Bool, schedule: StageSchedule, divergenceHint: String,
        body: () throws -> Float, after: (Float) throws -> Void,
        periodic: [(every: Int, action: () throws -> Void)], save: () throws -> Void
    ) throws -> Int32? {
        installStopHandler()
        defer {
            progress.finish()
            stopRequested = 0
        }
        func diverged(_ what: String) -> UserError {
            progress.finish()
            return UserError(
                "\(what) at step \(step): training diverged. The last good checkpoint in \(outDir) is kept "
                    + "(nothing was saved from this point on); \(divergenceHint)")
        }
        func checkedSave() throws {
            guard model.parametersAreFinite() else { throw diverged("the weights stopped being finite numbers") }
            try save()
        }
        while more() {
            let loss = try body()
            step += 1
            guard loss.isFinite else { throw diverged("the loss became \(loss)") }
            try after(loss)
            let last = isLast()
            for (every, action) in periodic where every > 0 && (step % every == 0 || last) { try action() }
            if stopRequested != 0 || step == schedule.stopAfterStep {
                let status = exitStatus(forSignal: stopRequested)
                try checkedSave()
                progress.finish()
                say("\(name): stopped at step \(step); checkpoint saved to \(outDir). Continue with --resume.")
                return status
            }
            if last || (schedule.saveEvery > 0 && step % schedule.saveEvery == 0) { try checkedSave() }
        }
        return nil
    }
}
