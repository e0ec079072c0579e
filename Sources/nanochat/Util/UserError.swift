// Errors a user can fix: what is wrong and how to fix it. The CLI prints them to stderr and exits 1,
// without a crash trace. Anything else that goes wrong is a bug.

import Foundation

struct UserError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Writes `data` to `path` through a temporary file in the same folder and a rename, so a reader never
/// sees a half-written file and an interrupted write loses nothing that was there before.
func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent()
    try makeFolder(dir.path)
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    do {
        try data.write(to: tmp)
        if rename(tmp.path, url.path) != 0 {
            throw UserError("cannot rename \(tmp.path) to \(path): \(String(cString: strerror(errno)))")
        }
    } catch let e as UserError {
        try? FileManager.default.removeItem(at: tmp)
        throw e
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw UserError(
            "cannot write \(path): \(error.localizedDescription). Check that the folder is writable and the disk "
                + "has space."
        )
    }
}

/// Creates the folder `path` and its parents (mkdir -p), with an error that says which one failed and why
/// ("cannot create folder /proc/x: No such file or directory", "... a file of that name is in the way").
func makeFolder(_ path: String) throws {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
        if isDir.boolValue { return }
        throw UserError("cannot create folder \(path): a file of that name is in the way")
    }
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty && parent != path { try makeFolder(parent) }
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
        throw UserError("cannot create folder \(path): \(String(cString: strerror(errno)))")
    }
}

/// Removes the temporary files of writeAtomically (".NAME.tmp-PID") in `dir` whose writer is no longer
/// running: a save killed before its rename leaves one behind. Returns how many were removed.
@discardableResult
func removeStaleTemporaries(in dir: String) -> Int {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return 0 }
    var removed = 0
    for name in names where name.hasPrefix(".") {
        guard let r = name.range(of: ".tmp-", options: .backwards), let pid = Int32(name[r.upperBound...]) else {
            continue
        }
        // kill(pid, 0) fails with ESRCH when no such process exists.
        if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
            if (try? FileManager.default.removeItem(atPath: dir + "/" + name)) != nil { removed += 1 }
        }
    }
    return removed
}

/// Reads a whole file, with an error that names the path.
func readFile(_ path: String, what: String = "file") throws -> Data {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw UserError("\(what) not found: \(path)")
    }
    if isDir.boolValue { throw UserError("\(what) \(path) is a folder, expected a file") }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw UserError("cannot read \(what) \(path): permission denied?")
    }
    return data
}

/// FNV-1a, 64-bit: a short, stable fingerprint (tokenizer hash in checkpoints). Not cryptographic.
func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}

/// Peak resident memory of this process so far, in MB (getrusage: KB on Linux, bytes on macOS).
func peakMemoryMB() -> Double {
    var usage = rusage()
    #if os(macOS)
    getrusage(RUSAGE_SELF, &usage)
    return Double(usage.ru_maxrss) / 1_048_576
    #else
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
    #endif
}
