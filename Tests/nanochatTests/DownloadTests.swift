// Downloads: SHA-256 against NIST's published examples, file:// and a loopback HTTP server started by the
// test, size and hash checks that leave nothing behind, HTTP and connection errors, JSONL to text.

import Foundation
import XCTest
@testable import nanochat

/// A TCP socket bound to an ephemeral port of 127.0.0.1, listening or not (connections to a socket that
/// does not listen are refused, and the port stays ours until it is closed).
private func loopbackSocket(listening: Bool) -> (fd: Int32, port: UInt16) {
    #if os(Linux)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { s in
            precondition(bind(fd, s, len) == 0 && (!listening || listen(fd, 8) == 0) && getsockname(fd, s, &len) == 0,
                         "loopback socket")
        }
    }
    return (fd, UInt16(bigEndian: addr.sin_port))
}

/// A minimal HTTP/1.0 server on 127.0.0.1 (ephemeral port): GET /<name> answers routes[name] with a
/// Content-Length, or 404. "/short" announces more bytes than it sends, "/stall" sends a few and then
/// nothing, "/to-file" redirects to a file:// address. Stops when the test ends.
private final class LoopbackServer {
    let fd: Int32
    let port: UInt16

    init(routes: [String: Data]) {
        let (fd, port) = loopbackSocket(listening: true)
        self.fd = fd
        self.port = port
        Thread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }   // the listening socket was shut down
                Thread {  // one thread a client, so that a stalled answer does not hold up the next request
                    LoopbackServer.answer(client, routes: routes)
                    close(client)
                }.start()
            }
        }.start()
    }

    static func answer(_ client: Int32, routes: [String: Data]) {
        var request = [UInt8](), buf = [UInt8](repeating: 0, count: 4096)
        while !request.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let n = recv(client, &buf, buf.count, 0)
            if n <= 0 { return }
            request += buf[0..<n]
        }
        let path = String(decoding: request, as: UTF8.self).split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        var response: Data
        if path == "/short" {
            response = Data("HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\nonly a few bytes".utf8)
        } else if path == "/stall" {  // a few bytes, then silence for 20 s
            _ = "HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\nabc".withCString { send(client, $0, strlen($0), 0) }
            sleep(20)
            return
        } else if path == "/to-file" {
            response = Data("HTTP/1.0 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n".utf8)
        } else if let body = routes[String(path.dropFirst())] {
            response = Data("HTTP/1.0 200 OK\r\nContent-Length: \(body.count)\r\nContent-Type: application/octet-stream\r\n\r\n".utf8) + body
        } else {
            response = Data("HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".utf8)
        }
        #if os(Linux)
        let flags = Int32(MSG_NOSIGNAL)
        #else
        let flags: Int32 = 0
        #endif
        var sent = 0
        while sent < response.count {
            let n = response.withUnsafeBytes { send(client, $0.baseAddress! + sent, response.count - sent, flags) }
            if n <= 0 { return }
            sent += n
        }
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}

final class DownloadTests: XCTestCase {
    func testSHA256MatchesNISTExamples() {
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a', fed in uneven chunks (the block boundary falls inside them).
        var h = SHA256()
        var left = 1_000_000
        for size in [1, 63, 64, 65, 1000].cycled() {
            let n = min(size, left)
            h.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
            left -= n
            if left == 0 { break }
        }
        XCTAssertEqual(hexString(h.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// A few hundred KB of pseudo-random bytes in a temporary file.
    func sampleFile(_ dir: String) throws -> (path: String, data: Data) {
        var state: UInt64 = 12345
        let bytes = (0..<300_000).map { _ -> UInt8 in state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(state >> 56) }
        let path = dir + "/source.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (path, Data(bytes))
    }

    func assertNothingLeft(_ file: String, line: UInt = #line) {
        XCTAssertFalse(FileManager.default.fileExists(atPath: file), "\(file) must not exist", line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file + ".partial"), "\(file).partial must be removed", line: line)
    }

    func testFileURL() throws {
        let dir = Fixtures.tempDir("dlfile")
        let (src, data) = try sampleFile(dir)
        var lastProgress: (Int, Int?) = (0, nil)
        let r = try download("file://" + src, to: dir + "/sub/copy.bin", expectedBytes: data.count) { lastProgress = ($0, $1) }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/sub/copy.bin")), data)
        XCTAssertEqual(r.bytes, data.count)
        XCTAssertEqual(lastProgress.0, data.count); XCTAssertEqual(lastProgress.1, data.count)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/sub/copy.bin.partial"))
        // The hash it reports is the one --sha256 accepts.
        try download("file://" + src, to: dir + "/again.bin", sha256: r.sha256.uppercased())
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/again.bin")), data)
    }

    func testWrongSizeOrHashLeavesNothing() throws {
        let dir = Fixtures.tempDir("dlbad")
        let (src, data) = try sampleFile(dir)
        let out = dir + "/copy.bin"
        assertUserError(["\(data.count) bytes", "\(data.count + 1) were expected"]) {
            try download("file://" + src, to: out, expectedBytes: data.count + 1)
        }
        assertNothingLeft(out)
        let wrong = String(repeating: "0", count: 64)
        assertUserError(["SHA-256", wrong, "was expected"]) { try download("file://" + src, to: out, sha256: wrong) }
        assertNothingLeft(out)
        assertUserError(["no such readable file"]) { try download("file://" + dir + "/missing.bin", to: out) }
        assertNothingLeft(out)
        assertUserError(["http://, https:// or file://"]) { try download("ftp://example.com/x", to: out) }
    }

    func testLoopbackHTTP() throws {
        let dir = Fixtures.tempDir("dlhttp")
        let (_, data) = try sampleFile(dir)
        let server = LoopbackServer(routes: ["corpus.bin": data])
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let r = try download(base + "/corpus.bin", to: dir + "/corpus.bin", expectedBytes: data.count)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/corpus.bin")), data)
        XCTAssertEqual(r.bytes, data.count)
        assertUserError(["HTTP 404", base + "/nothing"]) { try download(base + "/nothing", to: dir + "/nothing") }
        assertNothingLeft(dir + "/nothing")
        assertUserError([base + "/short"]) { try download(base + "/short", to: dir + "/short") }
        assertNothingLeft(dir + "/short")
        let wrong = String(repeating: "a", count: 64)
        assertUserError(["SHA-256"]) { try download(base + "/corpus.bin", to: dir + "/c2.bin", sha256: wrong) }
        assertNothingLeft(dir + "/c2.bin")
    }

    /// A server that stops sending: the download gives up after --timeout seconds with a plain message, and
    /// waits without spinning a core (URLSession on Linux burned a whole core here, 19.6 s of CPU in 20 s).
    func testStalledServerTimesOutWithoutBusyWaiting() throws {
        let dir = Fixtures.tempDir("dlstall")
        let server = LoopbackServer(routes: [:])
        defer { server.stop() }
        let address = "http://127.0.0.1:\(server.port)/stall"
        let cpu0 = processCPUSeconds(), t0 = now()
        assertUserError(["sent nothing for 2 s", "--timeout", address]) {
            try download(address, to: dir + "/stall.bin", timeout: 2)
        }
        let wall = now() - t0, cpu = processCPUSeconds() - cpu0
        XCTAssertGreaterThanOrEqual(wall, 1.5, "gave up before the timeout")
        XCTAssertLessThan(wall, 10, "did not give up after the timeout")
        XCTAssertLessThan(cpu, 0.25 * wall, "busy wait: \(cpu) s of CPU in \(wall) s")
        assertNothingLeft(dir + "/stall.bin")
    }

    /// A redirect to file:// is refused at once, with the rule in the message.
    func testRedirectToAnotherSchemeIsRefused() throws {
        let dir = Fixtures.tempDir("dlredirect")
        let server = LoopbackServer(routes: [:])
        defer { server.stop() }
        let t0 = now()
        assertUserError(["redirects are followed only to http(s)"]) {
            try download("http://127.0.0.1:\(server.port)/to-file", to: dir + "/r.bin", timeout: 30)
        }
        XCTAssertLessThan(now() - t0, 10)
        assertNothingLeft(dir + "/r.bin")
    }

    func testFolderAsSourceOrUnwritableDestination() throws {
        let dir = Fixtures.tempDir("dlfolder")
        assertUserError(["is a folder", "address of a file"]) { try download("file://" + dir, to: dir + "/x.bin") }
        let (path, _) = try sampleFile(dir)
        assertUserError(["cannot create folder", "a file of that name is in the way"]) {
            try download("file://" + path, to: path + "/sub/x.bin")
        }
        assertUserError(["cannot create folder /proc/nanochat-test"]) {
            try download("file://" + path, to: "/proc/nanochat-test/x.bin")
        }
    }

    func testRefusedConnection() throws {
        let dir = Fixtures.tempDir("dlrefused")
        // A socket bound to a loopback port but never listening: connecting is refused, and the port stays
        // ours for the whole test (a closed port could be taken by another process meanwhile).
        let (fd, port) = loopbackSocket(listening: false)
        defer { close(fd) }
        let address = "http://127.0.0.1:\(port)/x.bin"
        assertUserError(["cannot download", address]) { try download(address, to: dir + "/x.bin") }
        assertNothingLeft(dir + "/x.bin")
    }

    func testJSONLToText() throws {
        let dir = Fixtures.tempDir("jsonl")
        let texts = ["First document.\nWith two lines.", "Zweites Dokument: \u{00FC}ber \"Zitate\" \u{1F600}", "third"]
        var jsonl = texts.map { String(decoding: try! JSONSerialization.data(withJSONObject: ["text": $0, "id": 1]), as: UTF8.self) }
        jsonl.insert("", at: 1)                       // blank lines are skipped
        jsonl.append(#"{"text":""}"#)                  // so are empty documents
        try jsonl.joined(separator: "\n").write(toFile: dir + "/c.jsonl", atomically: true, encoding: .utf8)
        let r = try convertJSONLToText(dir + "/c.jsonl", folder: dir + "/c")
        XCTAssertEqual(r.documents, 3)
        // Fewer than 20 documents: none is the 20th, so the last one is moved to val/.
        let train = try Corpus.load([dir + "/c/train"]), val = try Corpus.load([dir + "/c/val"])
        XCTAssertEqual(train.documents.map { String(decoding: $0, as: UTF8.self) }, Array(texts[..<2]))
        XCTAssertEqual(val.documents.map { String(decoding: $0, as: UTF8.self) }, [texts[2]])
        XCTAssertEqual((train.paths + val.paths).map { ($0 as NSString).lastPathComponent }, ["00000001.txt", "00000002.txt", "00000003.txt"])
        // Every 20th document goes to val/.
        try (1...45).map { "{\"text\":\"doc \($0)\"}" }.joined(separator: "\n").write(toFile: dir + "/d.jsonl", atomically: true, encoding: .utf8)
        try convertJSONLToText(dir + "/d.jsonl", folder: dir + "/d")
        XCTAssertEqual(try Corpus.load([dir + "/d/val"]).documents.map { String(decoding: $0, as: UTF8.self) }, ["doc 20", "doc 40"])
        XCTAssertEqual(try Corpus.load([dir + "/d/train"]).documents.count, 43)
        assertUserError(["already exists"]) { try convertJSONLToText(dir + "/c.jsonl", folder: dir + "/c") }

        try "{\"text\":\"ok\"}\n{\"text\":\"ok too\"}\n{\"text\": broken}\n".write(toFile: dir + "/bad.jsonl", atomically: true, encoding: .utf8)
        assertUserError(["bad.jsonl line 3", "\"text\""]) { try convertJSONLToText(dir + "/bad.jsonl", folder: dir + "/bad") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.partial"))
    }
}

private extension Array {
    /// The elements repeated forever.
    func cycled() -> AnySequence<Element> {
        AnySequence { () -> AnyIterator<Element> in var i = 0; return AnyIterator { defer { i += 1 }; return self[i % self.count] } }
    }
}

/// CPU seconds (user + system) this process has used so far, all threads.
private func processCPUSeconds() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
