// `nanochat tok-train`: trains the byte-level BPE tokenizer on the corpus and saves it (nanochat:
// scripts/tok_train.py).

import ArgumentParser
import Foundation

struct TokTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tok-train", abstract: "Train the BPE tokenizer on text files or folders of *.txt files.")

    @OptionGroup var opts: RunOptions

    @Option(name: .long, parsing: .upToNextOption, help: "Text files or folders of *.txt files to train on.")
    var input: [String] = ["data/shakespeare/train"]

    @Option(help: "Vocabulary size, including the 256 bytes and the 9 special tokens.")
    var vocabSize: Int = 4096

    @Option(help: "Folder to write the tokenizer to (default: OUT/tokenizer).")
    var output: String?

    func validate() throws {
        guard vocabSize >= 256 + specialTokenNames.count && vocabSize <= 65536 else {
            throw ValidationError(
                "--vocab-size must be between \(256 + specialTokenNames.count) (bytes + special tokens) and 65536 "
                    + "(uint16 shards); got \(vocabSize)"
            )
        }
    }

    func run() throws {
        try runReportingErrors {
            let corpus = try Corpus.load(input)
            let t0 = now()
            let counted = countChunks(corpus.documents)
            let t1 = now()
            let numMerges = vocabSize - 256 - specialTokenNames.count
            let merges = trainBPE(counted, numMerges: numMerges)
            let t2 = now()
            let tok = Tokenizer(merges: merges)
            let dir = output ?? opts.tokenizerDir
            try tok.save(to: dir)
            let mb = Double(corpus.totalBytes) / 1e6
            print(
                "tok-train: \(corpus.documents.count) documents, \(String(format: "%.2f", mb)) MB, "
                    + "\(counted.chunks.count) unique chunks"
            )
            if merges.count < numMerges {
                print("tok-train: the corpus ran out of pairs after \(merges.count) merges (asked for \(numMerges))")
            }
            print(
                String(
                    format: "tok-train: count chunks %.3f s, %d merges %.3f s, total %.3f s (%.1f MB/s)",
                    t1 - t0, merges.count, t2 - t1, t2 - t0, mb / (t2 - t0)))
            print(
                "tok-train: vocab \(tok.vocabSize) (256 bytes + \(merges.count) merges + \(specialTokenNames.count) "
                    + "special), saved to \(dir)"
            )
        }
    }
}
