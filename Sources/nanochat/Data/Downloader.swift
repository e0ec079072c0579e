// Fetching a larger corpus: stream an http(s):// or file:// address to FILE.partial while counting bytes
// and hashing them (SHA-256), check the size and hash when they are known, then rename to FILE, so FILE
// only ever exists complete and verified. JSONL corpora ({"text": ...} per line, as FineWeb-style dumps
// are) become a folder of numbered .txt files, one document each, which Corpus.load reads in order.

import Foundation

struct DownloadResult {
    var bytes: Int
    var sha256: String
    var seconds: Double
}

/// Receives the bytes in order: writes them to the partial file, hashes and counts them.
private final class DownloadSink {
    let file: FileHandle
    var hash = SHA256(), count = 0, total: Int?
    let progress: ((Int, Int?) -> Void)?
    init(file: FileHandle, progress: ((Int, Int?) -> Void)?) {
        self.file = file
        self.progress = progress
    }

    func write(_ data: Data) throws {
        do { try file.write(contentsOf: data) } catch {
            throw UserError("cannot write the download: \(error.localizedDescription); check that the disk has space")
        }
        hash.update(data)
        count += data.count
        progress?(count, total)
    }
}

/// Downloads `address` to `output` (through `output`.partial). A wrong size or hash, an HTTP error or a
/// failed connection throws a UserError and leaves neither file behind.
@discardableResult
func download(
    _ address: String, to output: String, expectedBytes: Int? = nil, sha256 expectedHash: String? = nil,
    timeout: Double = 60, progress: ((Int, Int?) -> Void)? = nil
) throws -> DownloadResult {
    guard let url = URL(string: address), let scheme = url.scheme?.lowercased(),
        ["http", "https", "file"].contains(scheme)
    else {
        throw UserError("cannot download '\(address)': give an http://, https:// or file:// address")
    }
    let partial = output + ".partial"
    try makeFolder(URL(fileURLWithPath: output).deletingLastPathComponent().path)
    guard FileManager.default.createFile(atPath: partial, contents: nil),
        let handle = FileHandle(forWritingAtPath: partial)
    else {
        throw UserError("cannot write \(partial): check that the folder is writable")
    }
    let sink = DownloadSink(file: handle, progress: progress)
    let t0 = now()
    do {
        if scheme == "file" {
            try copyFile(url.path, into: sink)
        } else {
            try fetchHTTP(url, timeout: timeout, into: sink)
        }
        try handle.close()
        let hash = hexString(sink.hash.finalize())
        if let n = expectedBytes, n != sink.count {
            throw UserError(
                "\(address) gave \(sink.count) bytes but \(n) were expected (--bytes); the download is incomplete "
                    + "or the file changed"
            )
        }
        if let want = expectedHash?.lowercased(), want != hash {
            throw UserError(
                "SHA-256 of \(address) is \(hash) but \(want) was expected (--sha256); the file is corrupt or changed")
        }
        if rename(partial, output) != 0 {
            throw UserError("cannot rename \(partial) to \(output): \(String(cString: strerror(errno)))")
        }
        return DownloadResult(bytes: sink.count, sha256: hash, seconds: now() - t0)
    } catch {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: partial)
        throw error
    }
}

/// file://: read in 1 MB chunks.
private func copyFile(_ path: String, into sink: DownloadSink) throws {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
        throw UserError("cannot download file://\(path): it is a folder; give the address of a file")
    }
    guard let input = FileHandle(forReadingAtPath: path) else {
        throw UserError("cannot download file://\(path): no such readable file")
    }
    defer { try? input.close() }
    sink.total = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
    while true {
        let chunk: Data?
        do { chunk = try input.read(upToCount: 1 << 20) } catch {
            throw UserError("cannot read \(path): \(error.localizedDescription)")
        }
        guard let chunk, !chunk.isEmpty else { break }
        try sink.write(chunk)
    }
}

/// http(s)://: the `curl` program streams the body into a pipe that we read in 1 MB chunks. (Foundation's
/// URLSession on Linux spins a core while it waits for a silent server; curl waits in poll.) Redirects are
/// followed up to 5 times, only to http(s) and never from https down to http; a server that sends less than
/// one byte a second for `timeout` seconds, or does not connect in that time, ends the download.
private func fetchHTTP(_ url: URL, timeout: Double, into sink: DownloadSink) throws {
    let address = url.absoluteString
    guard let curl = findProgram("curl") else {
        throw UserError(
            "cannot download \(address): http(s) downloads use the curl program, which is not installed "
                + "(sudo apt-get install curl), or fetch the file yourself and give its file:// address")
    }
    let seconds = String(Int(timeout.rounded(.up)))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: curl)
    process.arguments = [
        "--silent", "--show-error", "--fail", "--location", "--max-redirs", "5",
        "--proto", "=http,https", "--proto-redir", url.scheme == "https" ? "=https" : "=http,https",
        "--connect-timeout", seconds, "--speed-limit", "1", "--speed-time", seconds, "--", address,
    ]
    let body = Pipe(), errors = Pipe()
    process.standardOutput = body
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch { throw UserError("cannot run \(curl): \(error.localizedDescription)") }
    do {
        while let chunk = try body.fileHandleForReading.read(upToCount: 1 << 20), !chunk.isEmpty {
            try sink.write(chunk)
        }
    } catch {
        process.terminate()
        process.waitUntilExit()
        throw error
    }
    let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let status = process.terminationStatus
    guard status != 0 else { return }
    // curl's own line, without its "curl: (N) " prefix.
    let reason = said.split(separator: "\n").last.map { $0.replacingOccurrences(
        of: #"^curl: \(\d+\) "#, with: "", options: .regularExpression) } ?? "curl exited with status \(status)"
    switch status {
    case 22:
        let code = reason.split(separator: " ").last.map(String.init) ?? "?"
        throw UserError("\(address) answered HTTP \(code); check the address")
    case 28:
        throw UserError(
            "\(address) sent nothing for \(seconds) s (\(reason)); try again later, or wait longer with --timeout")
    case 1, 47:
        throw UserError(
            "cannot download \(address): \(reason) (redirects are followed only to http(s), at most 5 times, "
                + "and never from https to http)")
    case 18:
        throw UserError("\(address): the connection closed early after \(sink.count) bytes (\(reason)); try again")
    default:
        throw UserError("cannot download \(address) (\(reason)); check the address and the network connection")
    }
}

/// The full path of `name` on $PATH, if it is there and executable.
private func findProgram(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
}

/// "12.3 MB / 45.6 MB (27%) | 5.1 MB/s | 7s left", or without the total when the size is unknown.
func downloadStatus(done: Int, total: Int?, seconds: Double) -> String {
    let rate = Double(done) / max(seconds, 1e-3)
    var s = String(format: "download: %.1f MB", Double(done) / 1e6)
    if let total, total > 0 {
        s += String(format: " / %.1f MB (%.0f%%)", Double(total) / 1e6, 100 * Double(done) / Double(total))
    }
    s += String(format: " | %.1f MB/s", rate / 1e6)
    if let total, total > 0, rate > 0 { s += " | " + formatDuration(Double(max(0, total - done)) / rate) + " left" }
    return s
}

// MARK: - JSONL to a text corpus

/// Writes the "text" of every line of `jsonl` as a corpus folder with a fixed split: every `valEvery`-th
/// document goes to `folder`/val/, the rest to `folder`/train/ (the layout `./run.sh --corpus` and
/// base-train's --train/--val take), one document per file, numbered in line order (00000001.txt, ...:
/// Corpus.load reads a folder's *.txt files sorted by name, one document each). If no document fell
/// into val/, the last one moves there. Blank lines and empty texts are skipped. The folder appears
/// only when every line was read.
@discardableResult
func convertJSONLToText(_ jsonl: String, folder: String, valEvery: Int = 20) throws -> (documents: Int, bytes: Int) {
    guard !FileManager.default.fileExists(atPath: folder) else {
        throw UserError("text folder \(folder) already exists; remove it or choose another with --text-dir")
    }
    guard let input = FileHandle(forReadingAtPath: jsonl) else { throw UserError("cannot read \(jsonl)") }
    defer { try? input.close() }
    let partial = folder + ".partial"
    try? FileManager.default.removeItem(atPath: partial)
    for split in ["train", "val"] {
        try makeFolder(partial + "/" + split)
    }
    var docs = 0, valDocs = 0, bytes = 0, lineNo = 0, pending = Data()
    func take(_ line: Data) throws {
        lineNo += 1
        guard !line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) else { return }
        guard let obj = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
            let text = obj["text"] as? String
        else {
            throw UserError(
                "\(jsonl) line \(lineNo) is not a JSON object with a \"text\" string ({\"text\": \"...\"} per line)")
        }
        guard !text.isEmpty else { return }
        docs += 1
        let data = Data(text.utf8)
        bytes += data.count
        let split = docs % valEvery == 0 ? "val" : "train"
        if split == "val" { valDocs += 1 }
        let file = partial + "/\(split)/" + String(format: "%08d.txt", docs)
        guard FileManager.default.createFile(atPath: file, contents: data) else {
            throw UserError("cannot write \(file): check that the disk has space")
        }
    }
    do {
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            pending.append(chunk)
            var start = pending.startIndex
            while let nl = pending[start...].firstIndex(of: 10) {
                try take(Data(pending[start..<nl]))
                start = nl + 1
            }
            pending = Data(pending[start...])
        }
        if !pending.isEmpty { try take(pending) }
        guard docs >= 2 else {
            throw UserError(
                "\(jsonl) holds \(docs) {\"text\": ...} documents; a corpus needs at least 2 (one for validation)")
        }
        if valDocs == 0 {
            let last = String(format: "%08d.txt", docs)
            if rename(partial + "/train/" + last, partial + "/val/" + last) != 0 {
                throw UserError("cannot move \(last) into \(partial)/val")
            }
        }
        if rename(partial, folder) != 0 {
            throw UserError("cannot rename \(partial) to \(folder): \(String(cString: strerror(errno)))")
        }
    } catch {
        try? FileManager.default.removeItem(atPath: partial)
        throw error
    }
    return (docs, bytes)
}
