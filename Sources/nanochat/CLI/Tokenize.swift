// `nanochat tokenize`: the token ids of a text (printed space-separated), or an llm.c .bin shard of them.

import ArgumentParser
import Foundation

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text file (stdin if none), or write them as a .bin shard.")

    @OptionGroup var opts: RunOptions

    @Option(help: "Tokenizer folder (default: OUT/tokenizer).")
    var tokenizer: String?

    @Argument(help: "Text file to encode (reads stdin when omitted).")
    var file: String?

    @Option(help: "Write an llm.c-format shard here instead of printing ids (the text is one document: <|bos|> first).")
    var bin: String?

    @Flag(help: "Encode special-token strings such as <|bos|> as their ids (plain text never yields them otherwise).")
    var allowSpecial = false

    func run() throws {
        try runReportingErrors {
            let tok = try Tokenizer.load(from: tokenizer ?? opts.tokenizerDir)
            let data: Data
            if let file {
                data = try readFile(file, what: "input text")
            } else {
                data = FileHandle.standardInput.readDataToEndOfFile()
            }
            let ids: [Int]
            if allowSpecial {
                guard let text = String(data: data, encoding: .utf8) else {
                    throw UserError("--allow-special needs UTF-8 text; the input is not valid UTF-8")
                }
                ids = tok.encode(text, allowSpecial: true)
            } else {
                ids = tok.encodeOrdinary([UInt8](data))
            }
            if let bin {
                try TokenShard.write([tok.bosId] + ids, to: bin)
                print("tokenize: \(ids.count + 1) tokens (with <|bos|>) written to \(bin)")
            } else {
                var line = ""
                line.reserveCapacity(ids.count * 5)
                for (k, id) in ids.enumerated() {
                    if k > 0 { line += " " }
                    line += String(id)
                }
                print(line)
            }
        }
    }
}
