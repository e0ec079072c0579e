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
        "\(meta["stage"] ?? URL(fileURLWithPath: dir).lastPathComponent) checkpoint \(dir) "
            + "(step \(meta["step"] ?? "?"), \(model.config.numParams) params)"
    }
}

/// The checkpoint folder: `checkpoint` if given, else the stage's folder, else the newest stage that has one.
func checkpointDir(out: String, stage: Stage?, checkpoint: String?) throws -> String {
    if let checkpoint { return checkpoint }
    if let stage { return stage.dir(in: out) }
    let found = Stage.newestFirst.map { $0.dir(in: out) }
        .first { FileManager.default.fileExists(atPath: $0 + "/" + Checkpoint.modelFile) }
    guard let found else {
        throw UserError(
            "no checkpoint in \(out)/{\(Stage.newestFirst.map(\.folder).joined(separator: ","))}. "
                + "Run ./run.sh first, or pass --checkpoint DIR.")
    }
    return found
}

/// Loads OUT/tokenizer and the checkpoint (see `checkpointDir`) into a model for batches of `maxBatch` rows.
func loadModel(out: String, stage: Stage? = nil, checkpoint: String? = nil, maxBatch: Int = 1) throws -> LoadedModel {
    let dir = try checkpointDir(out: out, stage: stage, checkpoint: checkpoint)
    _ = try Checkpoint.inspect(dir)  // a missing checkpoint is the first thing to say
    let tok = try Tokenizer.load(from: out + "/tokenizer")
    let (model, meta) = try loadCheckpoint(dir, tokenizer: tok, tokenizerDir: out + "/tokenizer", maxBatch: maxBatch)
    return LoadedModel(model: model, tokenizer: tok, dir: dir, meta: meta)
}

/// A checkpoint made with `tok` (same vocab size and hash, else an error that says so) as a model for
/// `maxBatch` rows, after checking that it fits in memory. Also the frozen models of a stage: a teacher,
/// a reference.
func loadCheckpoint(
    _ dir: String, tokenizer tok: Tokenizer, tokenizerDir: String, maxBatch: Int
) throws -> (GPT, [String: String]) {
    let (config, meta) = try Checkpoint.inspect(dir)
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
    try GPT.checkFitsInMemory(config, maxBatch: maxBatch, training: false)
    let model = GPT(config: config, maxBatch: maxBatch)
    try Checkpoint.load(into: model, from: dir)
    return (model, meta)
}
