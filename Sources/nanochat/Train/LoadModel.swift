// Loading a trained model for use (nanochat: checkpoint_manager.load_model): the run's tokenizer, then a
// checkpoint, by stage or by folder, built and filled. Every command that evaluates, samples or chats
// goes through here, so each failure has one message.

import Foundation

struct LoadedModel {
    let model: GPT
    let tokenizer: Tokenizer
    let dir: String
    let meta: [String: String]
    /// "sft checkpoint out/sft (step 200, 5242880 params)", for the first line a command prints.
    var description: String {
        let kind = AdapterFile.isAdapter(dir) ? "adapter (merged into its base)" : "checkpoint"
        return "\(meta["stage"] ?? URL(fileURLWithPath: dir).lastPathComponent) \(kind) \(dir) "
            + "(step \(meta["step"] ?? "?"), \(model.config.numParams) params)"
    }
}

/// The checkpoint folder: `checkpoint` if given, else the stage's folder, else the newest stage that has one.
func checkpointDir(out: String, stage: Stage?, checkpoint: String?) throws -> String {
    if let checkpoint { return checkpoint }
    if let stage { return stage.dir(in: out) }
    let found = Stage.newestFirst.map { $0.dir(in: out) }
        .first { Checkpoint.exists($0) }
    guard let found else {
        throw UserError(
            "no checkpoint in \(out)/{\(Stage.newestFirst.map(\.folder).joined(separator: ","))}. "
                + "Run ./run.sh first, or pass --checkpoint DIR.")
    }
    return found
}

/// Loads OUT/tokenizer and the checkpoint (see `checkpointDir`) into a model for batches of `maxBatch` rows.
/// With `adapter`, the LoRA adapter in that folder goes on the checkpoint (by default the one the adapter
/// was trained on; another base is refused), merged.
func loadModel(
    out: String, stage: Stage? = nil, checkpoint: String? = nil, adapter: String? = nil, maxBatch: Int = 1
) throws -> LoadedModel {
    if let adapter {
        let base =
            stage == nil && checkpoint == nil ? nil : try checkpointDir(out: out, stage: stage, checkpoint: checkpoint)
        try requireAdapter(adapter)
        _ = try AdapterFile.inspect(adapter, base: base)  // a missing adapter or base is the first thing to say
        let tok = try Tokenizer.load(from: out + "/tokenizer")
        let (model, meta) = try loadAdapter(
            adapter, base: base, tokenizer: tok, tokenizerDir: out + "/tokenizer", maxBatch: maxBatch)
        return LoadedModel(model: model, tokenizer: tok, dir: adapter, meta: meta)
    }
    let dir = try checkpointDir(out: out, stage: stage, checkpoint: checkpoint)
    _ = try Checkpoint.inspect(dir)  // a missing checkpoint is the first thing to say
    let tok = try Tokenizer.load(from: out + "/tokenizer")
    let (model, meta) = try loadCheckpoint(dir, tokenizer: tok, tokenizerDir: out + "/tokenizer", maxBatch: maxBatch)
    return LoadedModel(model: model, tokenizer: tok, dir: dir, meta: meta)
}

/// An adapter folder on `base` (nil: the base it records), checked, loaded and merged into a plain model.
func loadAdapter(
    _ dir: String, base: String?, tokenizer tok: Tokenizer, tokenizerDir: String, maxBatch: Int
) throws -> (GPT, [String: String]) {
    try requireAdapter(dir)
    let (config, meta) = try AdapterFile.inspect(dir, base: base)
    try checkTokenizer(config, meta, dir, tok, tokenizerDir)
    try GPT.checkFitsInMemory(config, maxBatch: maxBatch, training: false)
    let model = GPT(config: config, maxBatch: 1)
    try AdapterFile.load(into: model, from: dir, base: base)
    return (model.merged(maxBatch: maxBatch), meta)
}

/// A checkpoint made with `tok` (same vocab size and hash, else an error that says so) as a model for
/// `maxBatch` rows, after checking that it fits in memory. Also the frozen models of a stage: a teacher,
/// a reference.
func loadCheckpoint(
    _ dir: String, tokenizer tok: Tokenizer, tokenizerDir: String, maxBatch: Int
) throws -> (GPT, [String: String]) {
    if AdapterFile.isAdapter(dir) {
        return try loadAdapter(dir, base: nil, tokenizer: tok, tokenizerDir: tokenizerDir, maxBatch: maxBatch)
    }
    let (config, meta) = try Checkpoint.inspect(dir)
    try checkTokenizer(config, meta, dir, tok, tokenizerDir)
    try GPT.checkFitsInMemory(config, maxBatch: maxBatch, training: false)
    let model = GPT(config: config, maxBatch: maxBatch)
    try Checkpoint.load(into: model, from: dir)
    return (model, meta)
}

/// A checkpoint must have been made with this tokenizer: same vocab size, and same hash when it records one.
private func checkTokenizer(
    _ config: GPTConfig, _ meta: [String: String], _ dir: String, _ tok: Tokenizer, _ tokenizerDir: String
) throws {
    guard config.vocabSize == tok.vocabSize else {
        throw UserError(
            "\(dir) was trained with a \(config.vocabSize)-token vocab but \(tokenizerDir) has \(tok.vocabSize); "
                + "use the tokenizer of the same run (--out)")
    }
    guard meta["tokenizer_hash"] == nil || meta["tokenizer_hash"] == tok.hash else {
        throw UserError(
            "\(dir) was trained with another tokenizer than \(tokenizerDir) (hash \(meta["tokenizer_hash"]!), "
                + "now \(tok.hash)); use the tokenizer of the same run (--out)")
    }
}

/// Refuses a folder that is not an adapter, saying what it is.
private func requireAdapter(_ dir: String) throws {
    guard AdapterFile.isAdapter(dir) else {
        throw UserError(
            Checkpoint.exists(dir)
                ? "\(dir) holds a full checkpoint, not an adapter; pass it with --checkpoint instead of --adapter"
                : "\(dir) is not an adapter folder (\(AdapterFile.configFile) not found)")
    }
}
