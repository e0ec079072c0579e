// Keeps the lessons honest: every Swift file a lesson names must exist, and every identifier a lesson
// writes in backticks in a paragraph that names such files must be declared in one of them. Rename or
// remove a symbol and the lesson that teaches it fails here until the lesson is updated.
// Rules: paragraphs are separated by blank lines; a list item, table row or heading is a paragraph of
// its own; fenced code blocks are not checked for symbols (their paths must still exist).

import Foundation
import XCTest

enum LessonChecker {
    /// A Swift file under Sources/ or Tests/, as a lesson writes it: `Sources/nanochat/Tokenizer/Tokenizer.swift`.
    static let pathPattern = #"(?:Sources|Tests)/[A-Za-z0-9_/+.-]+\.swift"#
    /// Backticked words that look like identifiers but are not Swift symbols: the binary, a subcommand, literals.
    static let notSymbols: Set<String> = ["nanochat", "tokenize", "true", "false", "nil"]

    struct Report {
        var checked: [(symbol: String, files: [String])] = []
        var failures: [String] = []
    }

    /// Every match of `pattern` in `text`: the whole match, or capture group `group`.
    static func matches(_ pattern: String, in text: String, group: Int = 0) -> [String] {
        let regex = try! NSRegularExpression(pattern: pattern)
        let ns = text as NSString
        return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: group)) }
    }

    /// The lesson's paragraphs outside fenced code, each joined into one line.
    static func paragraphs(_ text: String) -> [String] {
        var result: [String] = [], current: [String] = [], inFence = false
        func flush() {
            if !current.isEmpty { result.append(current.joined(separator: " ")) }
            current = []
        }
        for line in text.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") { flush(); inFence.toggle(); continue }
            if inFence { continue }
            if trimmed.isEmpty { flush(); continue }
            if startsBlock(trimmed) { flush() }
            current.append(trimmed)
        }
        flush()
        return result
    }

    /// A line that starts a paragraph of its own: a list item, a heading or a table row.
    static func startsBlock(_ line: String) -> Bool {
        ["- ", "* ", "+ ", "#", "|"].contains { line.hasPrefix($0) } || !matches(#"^[0-9]+\. "#, in: line).isEmpty
    }

    /// The backticked identifiers of a paragraph, without a trailing argument list: `encode(_:)` is `encode`.
    static func symbols(_ paragraph: String) -> [String] {
        matches("`([^`]+)`", in: paragraph, group: 1)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !matches(#"^[A-Za-z_][A-Za-z0-9_]*(\(.*\))?$"#, in: $0).isEmpty }
            .map { span in String(span.prefix { $0 != "(" }) }
            .filter { !notSymbols.contains($0) }
    }

    /// Whether `source` declares `name`: a func, type, let, var or enum case of that name, a parameter or
    /// label (`name:`), or an initializer when the name is `init`.
    static func declares(_ source: String, _ name: String) -> Bool {
        let n = NSRegularExpression.escapedPattern(for: name)
        var patterns = [
            #"\b(func|struct|class|enum|protocol|extension|typealias|let|var|case)\s+"# + n + #"\b"#,
            #"\b(case|let|var)\s+(\w+(\s*:\s*[\w<>\[\]?]+)?(\s*=\s*[^,\n]+)?\s*,\s*)+"# + n + #"\b"#,  // let a, b = 0, NAME
            #"\b"# + n + #"\s*:"#,
        ]
        if name == "init" { patterns.append(#"\binit\s*[(<]"#) }
        return patterns.contains { !matches($0, in: source).isEmpty }
    }

    /// Checks one lesson's text against the files under `root`.
    static func check(lesson: String, text: String, root: URL) -> Report {
        var report = Report()
        for path in Set(matches(pathPattern, in: text)).sorted()
        where !FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path) {
            report.failures.append("\(lesson) names \(path), which does not exist")
        }
        for paragraph in paragraphs(text) {
            let paths = Set(matches(pathPattern, in: paragraph)).sorted()
            if paths.isEmpty { continue }
            let sources = paths.map { (try? String(contentsOf: root.appendingPathComponent($0), encoding: .utf8)) ?? "" }
            for symbol in symbols(paragraph) {
                report.checked.append((symbol, paths))
                if !sources.contains(where: { declares($0, symbol) }) {
                    report.failures.append("\(lesson): `\(symbol)` is not declared in \(paths.joined(separator: ", "))"
                                           + " (paragraph: \"\(paragraph.prefix(80))...\")")
                }
            }
        }
        return report
    }

    /// The local targets of a Markdown text's links and images, `[text](target)` and `![alt](target)`,
    /// without web addresses, pure anchors or a target's own `#anchor`.
    static func localLinks(_ text: String) -> [String] {
        matches(#"\]\(([^)\s]+)\)"#, in: text, group: 1)
            .filter { !$0.hasPrefix("http://") && !$0.hasPrefix("https://") && !$0.hasPrefix("#") && !$0.hasPrefix("mailto:") }
            .map { String($0.prefix { $0 != "#" }) }
    }

    /// Every linked file or picture of a Markdown file (relative to its folder) that does not exist.
    static func missingLinks(in file: URL) -> [String] {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        let folder = file.deletingLastPathComponent()
        return localLinks(text).filter { !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
    }
}

final class LessonTests: XCTestCase {
    /// This file is Tests/nanochatTests/LessonTests.swift.
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testLessonsNameRealCode() throws {
        let dir = Self.repoRoot.appendingPathComponent("Lessons")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".md") }.sorted()
        XCTAssertFalse(names.isEmpty, "no lessons found in \(dir.path)")
        var checked = 0
        for name in names {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            let report = LessonChecker.check(lesson: "Lessons/" + name, text: text, root: Self.repoRoot)
            checked += report.checked.count
            for failure in report.failures { XCTFail(failure) }
        }
        XCTAssertGreaterThan(checked, 0, "the lessons name no code next to a Sources/...swift path: nothing was checked")
    }

    /// Every picture a lesson shows and every file it links to exists (README.md and LOG.md too): a figure
    /// renamed or never committed fails here instead of showing as a broken image.
    func testLinkedPicturesAndFilesExist() throws {
        let dir = Self.repoRoot.appendingPathComponent("Lessons")
        let lessons = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".md") }
        let files = lessons.map { dir.appendingPathComponent($0) } + ["README.md", "LOG.md"].map { Self.repoRoot.appendingPathComponent($0) }
        var links = 0
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            links += LessonChecker.localLinks(text).count
            for target in LessonChecker.missingLinks(in: file) { XCTFail("\(file.lastPathComponent) links to \(target), which does not exist") }
        }
        XCTAssertGreaterThan(links, 10, "the lessons link to almost nothing: the link pattern is broken")
        // The pattern itself: an image, a link with an anchor, a web address and a pure anchor.
        let sample = "![plot](figures/a.svg) see [02](02-gpt.md#9-flops) or [web](https://x.org) and [here](#top)"
        XCTAssertEqual(LessonChecker.localLinks(sample), ["figures/a.svg", "02-gpt.md"])
    }

    func testCheckerCatchesAFakeSymbol() {
        let root = Self.repoRoot
        let lesson = "Training is `trainBPE` in `Sources/nanochat/Tokenizer/BPETrainer.swift`, helped by `noSuchSymbolXyz`."
        let report = LessonChecker.check(lesson: "fake.md", text: lesson, root: root)
        XCTAssertEqual(report.checked.map { $0.symbol }, ["trainBPE", "noSuchSymbolXyz"])
        XCTAssertEqual(report.failures.count, 1, "\(report.failures)")
        XCTAssertTrue(report.failures.first?.contains("noSuchSymbolXyz") ?? false, "\(report.failures)")

        // A file that does not exist is reported; a fenced code block is not checked for symbols.
        let missing = LessonChecker.check(lesson: "fake.md", text: "See `Sources/nanochat/NoSuchFile.swift`.", root: root)
        XCTAssertEqual(missing.failures.count, 1, "\(missing.failures)")
        let fenced = "```\n`Sources/nanochat/Tokenizer/BPETrainer.swift` `noSuchSymbolXyz`\n```\n"
        XCTAssertTrue(LessonChecker.check(lesson: "fake.md", text: fenced, root: root).failures.isEmpty)
    }
}
