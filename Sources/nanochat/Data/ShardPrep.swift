// Data prep for pretraining: tokenizes the train and validation corpora into llm.c-format shards,
// every document (file) starting with <|bos|>. Reuses existing shards when they were made by the same
// tokenizer from the same inputs (recorded in shards.json beside them).

import Foundation

struct ShardInfo: Codable, Equatable {
    var tokenizer_hash: String
    var train: [String]
    var val: [String]
}

/// Returns the paths of train.bin and val.bin in `dataDir`, creating them if needed.
func prepareShards(
    _ tok: Tokenizer, train: [String], val: [String], dataDir: String, say: (String) -> Void
) throws -> (String, String) {
    let trainPath = dataDir + "/train.bin", valPath = dataDir + "/val.bin", infoPath = dataDir + "/shards.json"
    let info = ShardInfo(tokenizer_hash: tok.hash, train: train, val: val)
    if let data = FileManager.default.contents(atPath: infoPath),
        let old = try? JSONDecoder().decode(ShardInfo.self, from: data),
        old == info, FileManager.default.fileExists(atPath: trainPath), FileManager.default.fileExists(atPath: valPath)
    {
        return (trainPath, valPath)
    }
    for (inputs, path) in [(train, trainPath), (val, valPath)] {
        let t0 = now()
        let corpus = try Corpus.load(inputs)
        var tokens: [Int] = []
        for doc in corpus.documents {
            tokens.append(tok.bosId)
            tokens += tok.encodeOrdinary(doc)
        }
        try TokenShard.write(tokens, to: path)
        say(
            String(
                format: "data: %@ -> %@: %d documents, %d bytes, %d tokens (%.1f s)",
                inputs.joined(separator: " "), path, corpus.documents.count, corpus.totalBytes, tokens.count, now() - t0
            ))
    }
    try writeAtomically(try JSONEncoder().encode(info), to: infoPath)
    return (trainPath, valPath)
}
