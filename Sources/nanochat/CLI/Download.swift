// `nanochat download URL`: fetch a larger corpus over http(s) or from a file:// address, with a live
// progress line, checked against --bytes and --sha256 when given; --jsonl-text turns a JSONL dump of
// {"text": ...} lines into a corpus folder (train/ and val/, one .txt per document) for
// `./run.sh --corpus DIR`, or tok-train --input DIR/train and base-train --train DIR/train --val DIR/val.

import ArgumentParser
import Foundation

struct Download: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a corpus file (http, https, file URL), verify its size and SHA-256.")

    @OptionGroup var opts: RunOptions
    @Argument(help: "http://, https:// or file:// address.") var url: String
    @Option(help: "Where to save it (default: OUT/downloads/<the address's file name>).") var output: String?
    @Option(help: "Expected SHA-256 (64 hex digits); a different download is deleted.") var sha256: String?
    @Option(help: "Expected size in bytes; a different download is deleted.") var bytes: Int?
    @Option(help: "Give up when the server sends nothing for this many seconds (or does not connect in them).")
    var timeout: Double = 60
    @Flag(help: "The file is JSONL of {\"text\": ...}: also write one .txt document per line into a folder.")
    var jsonlText = false
    @Option(help: "Folder for --jsonl-text (default: FILE without its .jsonl extension, or FILE-text).") var textDir:
        String?

    func validate() throws {
        if let h = sha256, h.count != 64 || !h.allSatisfy(\.isHexDigit) {
            throw ValidationError("--sha256 must be 64 hex digits, got '\(h)'")
        }
        if let n = bytes, n < 0 { throw ValidationError("--bytes must be 0 or more") }
        guard timeout.isFinite && timeout >= 1 && timeout <= 86400 else {
            throw ValidationError("--timeout must be between 1 and 86400 seconds, got \(timeout)")
        }
    }

    func run() throws {
        try runReportingErrors {
            let name = URL(string: url)?.lastPathComponent ?? ""
            let file = output ?? opts.out + "/downloads/" + (name.isEmpty || name == "/" ? "download" : name)
            var line = ProgressLine()
            var shown = 0.0
            let t0 = now()
            let r = try download(url, to: file, expectedBytes: bytes, sha256: sha256, timeout: timeout) { done, total in
                guard now() - shown >= 0.25 else { return }
                shown = now()
                line.show(downloadStatus(done: done, total: total, seconds: now() - t0))
            }
            line.show(downloadStatus(done: r.bytes, total: r.bytes, seconds: r.seconds), force: true)
            line.finish()
            print("download: \(file): \(r.bytes) bytes, sha256 \(r.sha256)" + (sha256 == nil ? "" : " (verified)"))
            if jsonlText {
                let dir = textDir ?? (file.hasSuffix(".jsonl") ? String(file.dropLast(6)) : file + "-text")
                let c = try convertJSONLToText(file, folder: dir)
                print(
                    "download: \(c.documents) documents (\(c.bytes) bytes of text) in \(dir)/train and \(dir)/val "
                        + "(every 20th); train on it with ./run.sh --corpus \(dir)"
                )
            }
        }
    }
}
