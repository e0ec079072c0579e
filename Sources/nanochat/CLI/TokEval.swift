// `nanochat tok-eval`: compression (bytes per token) on held-out text, encoding speed, and the longest
// tokens (nanochat: scripts/tok_eval.py).

import ArgumentParser
import Foundation

struct TokEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tok-eval", abstract: "Bytes/token and encoding speed on the validation text; the longest tokens.")

    @OptionGroup var opts: RunOptions

    @Option(help: "Tokenizer folder (default: OUT/tokenizer).")
    var tokenizer: String?

    @Option(name: .long, parsing: .upToNextOption, help: "Held-out text files or folders.")
    var input: [String] = ["data/shakespeare/val"]

    @Option(help: "How many of the longest tokens to show.")
    var top: Int = 10

    func validate() throws { try validateCount(top, "--top", 0...100_000) }

    func run() throws {
        try runReportingErrors {
            let dir = tokenizer ?? opts.tokenizerDir
            let corpus = try Corpus.load(input)
            var bytes = 0, tokens = 0
            var best = Double.infinity
            // Encoding speed: a fresh tokenizer (cold cache) each round, single thread, best of 3.
            for _ in 0..<3 {
                let tok = try Tokenizer.load(from: dir)
                let t0 = now()
                var n = 0
                for doc in corpus.documents { n += tok.encodeOrdinary(doc).count }
                best = min(best, now() - t0)
                tokens = n
            }
            bytes = corpus.totalBytes
            let tok = try Tokenizer.load(from: dir)
            print("tok-eval: \(dir): vocab \(tok.vocabSize)")
            print(
                String(
                    format: "tok-eval: %d bytes -> %d tokens, %.3f bytes/token", bytes, tokens,
                    Double(bytes) / Double(tokens)))
            print(
                String(
                    format: "tok-eval: encode %.1f MB/s (one thread, best of 3, %.3f s)", Double(bytes) / 1e6 / best,
                    best))
            // The figures for `nanochat report`, beside the tokenizer.
            let figures: [String: Any] = [
                "vocab_size": tok.vocabSize, "inputs": input, "bytes": bytes, "tokens": tokens,
                "bytes_per_token": Double(bytes) / Double(tokens), "encode_mb_per_s": Double(bytes) / 1e6 / best,
            ]
            try writeAtomically(
                try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys, .withoutEscapingSlashes]),
                to: dir + "/eval.json")
            let longest = (0..<tok.vocab.count).sorted { (tok.vocab[$0].count, $1) > (tok.vocab[$1].count, $0) }.prefix(
                top)
            print("tok-eval: longest tokens:")
            for id in longest {
                print(String(format: "  %5d  %2d bytes  ", id, tok.vocab[id].count) + displayToken(tok.vocab[id]))
            }
        }
    }
}

/// A token's bytes as a quoted, escaped string for display.
func displayToken(_ bytes: [UInt8]) -> String {
    var out = "\""
    for u in String(decoding: bytes, as: UTF8.self).unicodeScalars {
        switch u {
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        // Other control characters (NUL, ESC, DEL, C1) are shown as codes: printed raw, ESC sequences
        // would drive the terminal.
        case _ where u.value < 0x20 || (0x7F...0x9F).contains(u.value): out += String(format: "\\x%02X", u.value)
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}
