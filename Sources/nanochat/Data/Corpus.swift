// The text corpus: a list of documents read from files, or from every *.txt file in a folder (sorted by
// name, one document per file). data/shakespeare/{train,val}/ hold the default corpus, one work per file.

import Foundation

struct Corpus {
    var documents: [[UInt8]]
    var paths: [String]
    var totalBytes: Int { documents.reduce(0) { $0 + $1.count } }

    /// Reads every path: a file is one document; a folder contributes each of its *.txt files.
    static func load(_ inputs: [String]) throws -> Corpus {
        var docs: [[UInt8]] = [], paths: [String] = []
        for input in inputs {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else {
                throw UserError("corpus input not found: \(input). Pass text files or folders of *.txt files.")
            }
            let files: [String]
            if isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: input)) ?? []
                files = names.filter { $0.hasSuffix(".txt") }.sorted().map { input + "/" + $0 }
                if files.isEmpty { throw UserError("folder \(input) has no *.txt files to read") }
            } else {
                files = [input]
            }
            for f in files {
                let data = try readFile(f, what: "corpus file")
                if !data.isEmpty {
                    docs.append([UInt8](data))
                    paths.append(f)
                }
            }
        }
        guard !docs.isEmpty else {
            throw UserError("the corpus is empty: \(inputs.joined(separator: ", ")) holds no text")
        }
        return Corpus(documents: docs, paths: paths)
    }
}
