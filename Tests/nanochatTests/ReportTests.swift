// The report card on a hand-made run folder: the summary table's cells, the last chat-eval run per task,
// resumed logs, missing stages, and SVG plots that parse as XML with one polyline point per step.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import nanochat

/// The polylines of an SVG (data-name -> number of points), and whether it parsed as XML.
private final class SVGReader: NSObject, XMLParserDelegate {
    var polylines: [String: Int] = [:], circles = 0, texts: [String] = [], inText = false

    static func read(_ data: Data) -> (ok: Bool, reader: SVGReader) {
        let r = SVGReader(), p = XMLParser(data: data)
        p.delegate = r
        return (p.parse(), r)
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if name == "polyline" {
            polylines[attributes["data-name"] ?? ""] = (attributes["points"] ?? "").split(separator: " ").count
        }
        if name == "circle" { circles += 1 }
        if name == "text" { inText = true; texts.append("") }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { if inText { texts[texts.count - 1] += string } }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { inText = false }
    }
}

final class ReportTests: XCTestCase {
    func write(_ path: String, _ lines: [String]) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// base: 5 steps, interrupted after 4 and resumed from step 3 (steps 4 and 5 run again, time restarts);
    /// mid: not run; sft: only chat-eval results; rl: reward and pass@1 lines with a key we do not know.
    func makeRunFolder() throws -> String {
        let out = Fixtures.tempDir("report")
        try write(out + "/base/log.jsonl", [
            #"{"step":1,"loss":8.0,"lr":1.0,"tok_per_s":2000,"tokens":1024,"time":1.0}"#,
            #"{"step":2,"loss":7.0,"lr":1.0,"tok_per_s":2000,"tokens":2048,"time":2.0}"#,
            #"{"step":3,"loss":6.0,"lr":1.0,"tok_per_s":2000,"tokens":3072,"time":3.0}"#,
            #"{"step":4,"loss":5.9,"lr":1.0,"tok_per_s":2000,"tokens":4096,"time":4.0}"#,
            "this line is not JSON",
            #"{"step":4,"loss":5.5,"lr":1.0,"tok_per_s":2100,"tokens":4096,"time":1.0,"new_key":"x"}"#,
            #"{"step":5,"loss":5.0,"lr":0.5,"tok_per_s":2100,"tokens":5120,"time":2.0}"#,
            #"{"step":5,"val_loss":5.25,"val_bpb":2.5}"#,
        ])
        try write(out + "/base/eval.jsonl", [
            #"{"source":"base","task":"arithmetic","correct":10,"total":50}"#,
            #"{"source":"base","task":"spelling","correct":5,"total":50}"#,
            #"{"source":"base","task":"arithmetic","correct":0,"total":50}"#,   // the last run wins
        ])
        try write(out + "/sft/eval.jsonl", [
            #"{"source":"sft","task":"arithmetic","correct":50,"total":100}"#,
            #"{"source":"sft","task":"spelling","correct":7,"total":100}"#,
            #"{"source":"sft","task":"arithmetic","correct":93,"total":100}"#,
            #"{"source":"sft","task":"spelling","correct":37,"total":100}"#,
        ])
        try write(out + "/rl/log.jsonl", [
            #"{"step":1,"reward":0.2,"loss":0.05,"tok_per_s":300,"time":10.0,"kl":0.01}"#,
            #"{"step":2,"reward":0.4,"loss":0.03,"tok_per_s":310,"time":20.0}"#,
            #"{"step":3,"reward":0.6,"loss":0.02,"tok_per_s":320,"time":30.0}"#,
            #"{"step":3,"pass1":0.55}"#,
        ])
        try write(out + "/rl/eval.jsonl", [#"{"source":"rl","task":"arithmetic","correct":97,"total":100}"#])
        try write(out + "/tokenizer/eval.json", [#"{"vocab_size":1024,"bytes_per_token":3.25,"bytes":650,"tokens":200,"encode_mb_per_s":12.5}"#])
        try appendBaseEval(["loss": 9.0, "bpb": 9.0, "tokens": 1], to: out + "/base/base_eval.json")
        try appendBaseEval(["loss": 5.125, "bpb": 2.375, "tokens": 65536], to: out + "/base/base_eval.json")
        return out
    }

    func testReportTablesAndFigures() throws {
        let out = try makeRunFolder()
        let md = try writeReport(out: out, codeRoot: Fixtures.repoRoot.path)
        XCTAssertEqual(try String(contentsOfFile: out + "/report/report.md", encoding: .utf8), md)
        let lines = md.split(separator: "\n").map(String.init)
        func row(_ prefix: String) -> String? { lines.last { $0.hasPrefix(prefix) } }
        // Summary: one column per stage; mid never ran; sft has no log, so no bpb.
        XCTAssertTrue(md.contains("| metric | BASE | MID | SFT | RL | DISTILL |"))
        XCTAssertEqual(row("| arithmetic |"), "| arithmetic | 0.0% | - | 93.0% | 97.0% | - |")
        XCTAssertEqual(row("| spelling |"), "| spelling | 10.0% | - | 37.0% | - | - |")
        XCTAssertEqual(row("| val bpb |"), "| val bpb | 2.5000 | - | - | - | - |")
        XCTAssertTrue(md.contains("## Mid-training (mid)\n\n(stage not run)"), md)
        // Base figures: steps after the resume, the two runs' times added (4 s + 2 s), the last token count,
        // EMA of the losses 8, 7, 6, 5.5, 5 (the replaced step 4 is dropped), the last base-eval.
        let baseSection = md.components(separatedBy: "## Base pretraining")[1].components(separatedBy: "## Mid")[0]
        XCTAssertTrue(baseSection.contains("| steps | 5 |"), baseSection)
        XCTAssertTrue(baseSection.contains("| wall time | 6s |"))
        XCTAssertTrue(baseSection.contains("| tokens | 5120 |"))
        let ema = [8.0, 7, 6, 5.5, 5].dropFirst().reduce(8.0) { 0.9 * $0 + 0.1 * $1 }
        XCTAssertTrue(md.contains(String(format: "| train loss (EMA 0.9, last step) | %.4f |", ema)), md)
        XCTAssertTrue(md.contains("| val bpb (step 5) | 2.5000 |"))
        XCTAssertTrue(md.contains("| base-eval | loss 5.1250, bpb 2.3750 on 65536 tokens |"))
        XCTAssertTrue(md.contains("| unreadable log lines | 1 (skipped) |"))
        // RL: reward, pass@1; tokenizer; machine and code.
        let rlSection = md.components(separatedBy: "## Reinforcement learning")[1]
        XCTAssertTrue(rlSection.contains("| steps | 3 |") && rlSection.contains("| wall time | 30s |"))
        XCTAssertTrue(rlSection.contains("| pass@1 (step 3) | 0.550 |"))
        XCTAssertTrue(md.contains("- vocab size: 1024") && md.contains("3.250 bytes/token"))
        XCTAssertTrue(md.contains("| Sources/ (*.swift) |") && md.contains("| cores |"))

        // Plots: present exactly for the stages with a log, referenced, and well-formed XML.
        let names = try FileManager.default.contentsOfDirectory(atPath: out + "/report").filter { $0.hasSuffix(".svg") }.sorted()
        XCTAssertEqual(names, ["loss-base.svg", "reward-rl.svg"])
        XCTAssertTrue(md.contains("![](loss-base.svg)") && md.contains("![](reward-rl.svg)"))
        let (ok, base) = SVGReader.read(try Data(contentsOf: URL(fileURLWithPath: out + "/report/loss-base.svg")))
        XCTAssertTrue(ok)
        XCTAssertEqual(base.polylines["train loss"], 5, "one point per step")
        XCTAssertEqual(base.polylines["train loss (EMA 0.9)"], 5)
        XCTAssertEqual(base.polylines["val loss"], 1)
        let (rlOK, rl) = SVGReader.read(try Data(contentsOf: URL(fileURLWithPath: out + "/report/reward-rl.svg")))
        XCTAssertTrue(rlOK)
        XCTAssertEqual(rl.polylines["reward"], 3)
    }

    func testEmptyRunFolder() throws {
        let out = Fixtures.tempDir("emptyreport")
        let md = try writeReport(out: out, codeRoot: out)
        XCTAssertEqual(md.components(separatedBy: "(stage not run)").count - 1, 1 + Stage.allCases.count, "tokenizer and every stage")
        XCTAssertTrue(md.contains("| val bpb | - | - | - | - | - |"))
        XCTAssertTrue(md.contains("(no Sources/"))
        XCTAssertTrue(md.contains("| git commit | unknown |"), "a temp folder is no git repository")
    }

    func testNiceTicks() {
        XCTAssertEqual(niceTicks(0, 9.7), [0, 2, 4, 6, 8, 10])
        XCTAssertEqual(niceTicks(1, 450), [0, 100, 200, 300, 400, 500])
        // For any range: covers it, equal steps of 1, 2 or 5 x 10^k, between 5 and 10 ticks (target 6).
        var rng = SeededGenerator(seed: 17)  // seeded: a failure can be replayed
        for _ in 0..<2000 {
            let a = Double.random(in: -1e4...1e4, using: &rng) * pow(10, Double.random(in: -6...3, using: &rng))
            let b = a + abs(a) * Double.random(in: 1e-6...10, using: &rng) + 1e-9
            let t = niceTicks(a, b)
            XCTAssertLessThanOrEqual(t.first!, a); XCTAssertGreaterThanOrEqual(t.last!, b)
            XCTAssertTrue((5...10).contains(t.count), "\(a)...\(b) -> \(t)")
            let step = t[1] - t[0], mantissa = step / pow(10, log10(step).rounded(.down))
            XCTAssertTrue([1.0, 2, 5, 10].contains { abs(mantissa - $0) < 1e-6 }, "step \(step)")
            for i in 1..<t.count { XCTAssertEqual(t[i] - t[i - 1], step, accuracy: step * 1e-6) }
        }
        XCTAssertEqual(niceTicks(3, 3).count > 1, true, "a zero-width range is widened")
        XCTAssertEqual(tickLabel(0.25, [0, 0.25, 0.5]), "0.25")
        XCTAssertEqual(tickLabel(1000, [0, 500, 1000]), "1000")
    }

    func testPlotDirection() {
        // Larger y is drawn higher (smaller SVG y), larger x further right; the points stay in the plot area.
        var plot = SVGPlot(title: "t", xLabel: "x", yLabel: "y")
        plot.series = [.init(name: "rising", points: [(0, 1), (5, 3), (10, 2)])]
        let svg = plot.render()
        let attr = try? XCTUnwrap(svg.range(of: "points=\"[^\"]*\"", options: .regularExpression))
        let pts = attr.map { svg[$0].dropFirst(8).dropLast().split(separator: " ").map { $0.split(separator: ",").map { Double($0)! } } } ?? []
        XCTAssertEqual(pts.count, 3)
        guard pts.count == 3 else { return }
        XCTAssertLessThan(pts[0][0], pts[1][0]); XCTAssertLessThan(pts[1][0], pts[2][0])
        XCTAssertGreaterThan(pts[0][1], pts[2][1], "y = 1 is below y = 2")
        XCTAssertGreaterThan(pts[2][1], pts[1][1], "y = 2 is below y = 3")
        for p in pts { XCTAssertTrue((0...plot.width).contains(p[0]) && (0...plot.height).contains(p[1])) }
    }

    func testPlotEdgeCases() {
        var plot = SVGPlot(title: "a <b> & \"c\"", xLabel: "x", yLabel: "y")
        plot.series = [
            .init(name: "with NaN", points: [(0, 1), (1, .nan), (2, .infinity), (3, 2)]),
            .init(name: "one", points: [(1, 1.5)]),
            .init(name: "empty", points: []),
        ]
        let (ok, r) = SVGReader.read(Data(plot.render().utf8))
        XCTAssertTrue(ok)
        XCTAssertEqual(r.polylines["with NaN"], 2, "non-finite points are dropped")
        XCTAssertEqual(r.polylines["one"], 1)
        XCTAssertNil(r.polylines["empty"])
        XCTAssertEqual(r.circles, 1, "a single point gets a marker")
        XCTAssertTrue(r.texts.contains("a <b> & \"c\""), "escaped title reads back: \(r.texts)")
        XCTAssertFalse(r.texts.contains("empty"), "no legend entry for an empty series")
        let (emptyOK, empty) = SVGReader.read(Data(SVGPlot(title: "t", xLabel: "x", yLabel: "y").render().utf8))
        XCTAssertTrue(emptyOK)
        XCTAssertTrue(empty.texts.contains("no data"))
    }
}

/// Our SplitMix64 RNG as a Swift RandomNumberGenerator, for `Double.random(in:using:)`.
struct SeededGenerator: RandomNumberGenerator {
    var rng: RNG
    init(seed: UInt64) { rng = RNG(seed: seed) }
    mutating func next() -> UInt64 { rng.next() }
}
