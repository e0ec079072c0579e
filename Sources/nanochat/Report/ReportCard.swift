// The report card (nanochat: nanochat/report.py): OUT/report/report.md with the machine, the code's
// size, the tokenizer's compression, each stage's training figures and task accuracies, a summary table
// and an SVG plot per stage. It only reads what the stages wrote (log.jsonl, eval.jsonl, eval.json,
// base_eval.json); a stage whose files are missing is reported as not run.

import Foundation

/// A stage's log.jsonl read back as the typed records the stages wrote (Train/LogRecords.swift); a line
/// that is none of them is counted as unreadable. Unknown extra keys are ignored.
struct StageLog {
    var records: [LoggedRecord]
    var unreadable = 0

    init?(path: String) {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        records = []
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.allSatisfy({ $0 == 32 || $0 == 13 }) {
            if let r = LoggedRecord(json: Data(line)) { records.append(r) } else { unreadable += 1 }
        }
    }

    /// (step, value) of every record with the figure. A step that does not move forward means the stage was
    /// resumed from an earlier checkpoint: the points it replaces are dropped, so each step appears once.
    func series(_ figure: LogFigure) -> [(x: Double, y: Double)] {
        var out: [(x: Double, y: Double)] = []
        for r in records {
            guard let v = figure.value(of: r) else { continue }
            let step = Double(r.step)
            while let last = out.last, last.x >= step { out.removeLast() }
            out.append((step, v))
        }
        return out
    }

    var steps: Int { Int(series(.time).last?.x ?? series(.loss).last?.x ?? series(.reward).last?.x ?? 0) }

    /// Seconds spent in all runs of the stage: "time" restarts from zero when a stage is resumed, so the
    /// last time of each run is added up.
    var wallTime: Double? {
        let times = records.compactMap { LogFigure.time.value(of: $0) }
        guard !times.isEmpty else { return nil }
        var total = 0.0
        for (i, t) in times.enumerated() where i == times.count - 1 || times[i + 1] < t { total += t }
        return total
    }

    func last(_ figure: LogFigure) -> Double? { records.lazy.reversed().compactMap { figure.value(of: $0) }.first }
}

/// Exponential moving average starting from the first value (as the training loop's progress line does).
func emaSmooth(_ ys: [Double], beta: Double = 0.9) -> [Double] {
    var s = ys.first ?? 0
    return ys.map {
        s = beta * s + (1 - beta) * $0
        return s
    }
}

/// The last eval.jsonl record of each task (chat-eval appends a block per run), in first-seen order.
func lastTaskResults(_ path: String) -> [(task: String, correct: Int, total: Int)] {
    guard let data = FileManager.default.contents(atPath: path) else { return [] }
    var order: [String] = [], latest: [String: (Int, Int)] = [:]
    for line in data.split(separator: UInt8(ascii: "\n")) {
        guard let r = try? JSONDecoder().decode(TaskResultRecord.self, from: Data(line)),
            let c = r.correct, let t = r.total, t > 0
        else { continue }
        if latest[r.task] == nil { order.append(r.task) }
        latest[r.task] = (c, t)
    }
    return order.map { ($0, latest[$0]!.0, latest[$0]!.1) }
}

/// The report's columns beyond the pipeline's stages: the optional groups' models, by folder under OUT.
let extraColumns = [
    ("DPO", PreferenceMethod.dpo.folder), ("SFT-LORA", "sft-lora"), ("SFT-TERSE", "sft-terse"),
    ("RL-ZERO", "rl-zero"), ("D2-SFT", "student/sft"), ("D2-OFF", "student/distill-off"),
    ("D2-ON", "student/distill-on"), ("D2-SFT+ON", "student/sft-on"),
]

/// Writes OUT/report/report.md and the plots; returns the markdown. `codeRoot` is the folder whose
/// Sources/, Tests/ and Lessons/ are counted and whose git commit is reported.
@discardableResult
func writeReport(out: String, codeRoot: String = ".") throws -> String {
    let dir = out + "/report"
    var md = "# nanochat report\n\nRun folder `\(out)`, generated \(ISO8601DateFormatter().string(from: Date())).\n\n"
    md += machineSection(codeRoot: codeRoot) + codeSizeSection(codeRoot: codeRoot) + tokenizerSection(out: out)

    var bpb: [Stage: Double] = [:], tasks: [Stage: [(task: String, correct: Int, total: Int)]] = [:]
    for stage in Stage.allCases {
        let log = StageLog(path: stage.dir(in: out) + "/log.jsonl")
        tasks[stage] = lastTaskResults(stage.dir(in: out) + "/eval.jsonl")
        bpb[stage] = log?.last(.val_bpb)
        md += "## \(stage.title) (\(stage.folder))\n\n"
        if log == nil && tasks[stage]!.isEmpty {
            md += "(stage not run)\n\n"
            continue
        }
        if let log {
            md += stageFigures(log, stage: stage, out: out)
            let (name, svg) = stagePlot(log, stage: stage)
            try writeAtomically(Data(svg.utf8), to: dir + "/" + name)
            md += "![](\(name))\n\n"
        }
        if !tasks[stage]!.isEmpty {
            md += "| task | correct | accuracy |\n|---|---|---|\n"
            for r in tasks[stage]! {
                md += "| \(r.task) | \(r.correct)/\(r.total) | \(percent(r.correct, r.total)) |\n"
            }
            md += "\n"
        }
    }

    md += preferenceSection(out: out)
    // The summary's columns: every stage, then the optional groups' models that were evaluated (run.sh
    // --preference, --lora, --reasoning).
    var columns = Stage.allCases.map { (name: $0.folder.uppercased(), bpb: bpb[$0], tasks: tasks[$0]!) }
    for (name, folder) in extraColumns {
        let results = lastTaskResults(out + "/" + folder + "/eval.jsonl")
        if !results.isEmpty {
            columns.append((name, StageLog(path: out + "/" + folder + "/log.jsonl")?.last(.val_bpb), results))
        }
    }
    md +=
        "## Summary\n\n| metric | " + columns.map(\.name).joined(separator: " | ") + " |\n|---|"
        + String(repeating: "---|", count: columns.count) + "\n"
    md +=
        "| val bpb | " + columns.map { $0.bpb.map { String(format: "%.4f", $0) } ?? "-" }.joined(separator: " | ")
        + " |\n"
    var taskNames: [String] = []
    for c in columns { for r in c.tasks where !taskNames.contains(r.task) { taskNames.append(r.task) } }
    for t in taskNames {
        let cells = columns.map { c in c.tasks.first { $0.task == t }.map { percent($0.correct, $0.total) } ?? "-" }
        md += "| \(t) | " + cells.joined(separator: " | ") + " |\n"
    }
    try writeAtomically(Data(md.utf8), to: dir + "/report.md")
    return md
}

/// The preference group's section: held-out pair accuracy of the reward model and of DPO's implicit reward
/// (the last evaluation of each pair set in their logs), and DPO's task results. Empty when neither ran.
private func preferenceSection(out: String) -> String {
    var md = ""
    for method in [PreferenceMethod.reward, .dpo] {
        let dir = out + "/" + method.folder
        guard let data = FileManager.default.contents(atPath: dir + "/log.jsonl") else { continue }
        var last: [String: PairAccuracyRecord] = [:], order: [String] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let r = try? JSONDecoder().decode(PairAccuracyRecord.self, from: Data(line)) else { continue }
            if last[r.set] == nil { order.append(r.set) }
            last[r.set] = r
        }
        md += "### \(method == .reward ? "Reward model" : "DPO") (\(method.folder), `\(method.command)`)\n\n"
        md += "| held-out pairs | step | pair accuracy | mean margin |\n|---|---|---|---|\n"
        for name in order {
            let r = last[name]!
            md += String(format: "| %@ | %d | %.1f%% | %.3f |\n", name, r.step, 100 * r.pair_accuracy, r.margin)
        }
        md += "\n"
    }
    return md.isEmpty ? "" : "## Preference tuning\n\n" + md
}

private func percent(_ correct: Int, _ total: Int) -> String {
    String(format: "%.1f%%", 100 * Double(correct) / Double(total))
}

// MARK: - Sections

private func machineSection(codeRoot: String) -> String {
    func proc(_ file: String, _ key: String) -> String? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix(key) }
        return line.flatMap { $0.split(separator: ":", maxSplits: 1).last }.map {
            $0.trimmingCharacters(in: .whitespaces)
        }
    }
    var u = utsname()
    uname(&u)
    func field<T>(_ v: T) -> String {
        withUnsafeBytes(of: v) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
    let memory = proc("/proc/meminfo", "MemTotal").flatMap { Double($0.split(separator: " ").first ?? "") }
        .map { String(format: "%.1f GB", $0 / 1_048_576) }
    let commit = runTool("git", ["rev-parse", "--short", "HEAD"], in: codeRoot)
    let dirty = runTool("git", ["status", "--porcelain"], in: codeRoot).map {
        $0.isEmpty ? "clean" : "uncommitted changes"
    }
    let rows = [
        ("CPU", proc("/proc/cpuinfo", "model name") ?? "unknown"),
        ("cores", "\(ProcessInfo.processInfo.activeProcessorCount)"),
        ("memory", memory ?? "unknown"),
        ("OS", "\(field(u.sysname)) \(field(u.release)) \(field(u.machine))"),
        (
            "Swift",
            runTool("swift", ["--version"], in: codeRoot)?.split(separator: "\n").first.map(String.init) ?? "unknown"
        ),
        ("git commit", commit.map { "\($0) (\(dirty ?? "status unknown"))" } ?? "unknown"),
    ]
    return "## Machine and software\n\n| | |\n|---|---|\n" + rows.map { "| \($0.0) | \($0.1) |\n" }.joined() + "\n"
}

/// Runs a program found on PATH; its trimmed standard output, or nil if it is missing or fails.
func runTool(_ name: String, _ args: [String], in dir: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/\(name)" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let path else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: dir)
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

private func codeSizeSection(codeRoot: String) -> String {
    var s = "## Code\n\n"
    guard FileManager.default.fileExists(atPath: codeRoot + "/Sources") else {
        return s + "(no Sources/ in \(codeRoot): run the report from the repository to count the code)\n\n"
    }
    s += "| folder | files | lines |\n|---|---|---|\n"
    for (folder, ext) in [("Sources", ".swift"), ("Tests", ".swift"), ("Lessons", ".md")] {
        var files = 0, lines = 0
        let root = codeRoot + "/" + folder
        guard let walk = FileManager.default.enumerator(atPath: root) else { continue }
        for case let rel as String in walk where rel.hasSuffix(ext) {
            guard let data = FileManager.default.contents(atPath: root + "/" + rel) else { continue }
            files += 1
            lines += data.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        }
        s += "| \(folder)/ (*\(ext)) | \(files) | \(lines) |\n"
    }
    return s + "\n"
}

private func tokenizerSection(out: String) -> String {
    let path = out + "/tokenizer/eval.json"
    var s = "## Tokenizer\n\n"
    guard let data = FileManager.default.contents(atPath: path),
        let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else {
        let trained = FileManager.default.fileExists(atPath: out + "/tokenizer/tokenizer.json")
        return s + (trained ? "(trained, not evaluated: run `nanochat tok-eval`)\n\n" : "(stage not run)\n\n")
    }
    func num(_ k: String) -> Double? { (o[k] as? NSNumber)?.doubleValue }
    if let v = num("vocab_size") { s += "- vocab size: \(Int(v))\n" }
    if let b = num("bytes_per_token") {
        let on = (o["inputs"] as? [String])?.joined(separator: ", ") ?? "the validation text"
        s += String(format: "- %.3f bytes/token on %@", b, on)
        if let bytes = num("bytes"), let tokens = num("tokens") { s += " (\(Int(bytes)) bytes, \(Int(tokens)) tokens)" }
        s += "\n"
    }
    if let speed = num("encode_mb_per_s") { s += String(format: "- encoding: %.1f MB/s (one thread)\n", speed) }
    return s + "\n"
}

private func stageFigures(_ log: StageLog, stage: Stage, out: String) -> String {
    var rows: [(String, String)] = [("steps", "\(log.steps)")]
    if let t = log.wallTime { rows.append(("wall time", formatDuration(t))) }
    if let n = log.last(.tokens) { rows.append(("tokens", "\(Int(n))")) }
    if let tps = log.last(.tok_per_s) { rows.append(("tokens/s (last step)", "\(Int(tps))")) }
    let loss = log.series(.loss).map(\.y)
    if let l = emaSmooth(loss).last { rows.append(("train loss (EMA 0.9, last step)", String(format: "%.4f", l))) }
    let reward = log.series(.reward).map(\.y)
    if let r = emaSmooth(reward).last { rows.append(("reward (EMA 0.9, last step)", String(format: "%.3f", r))) }
    let kl = log.series(.kl).map(\.y)
    if let k = emaSmooth(kl).last { rows.append(("KL (EMA 0.9, last step)", String(format: "%.4f", k))) }
    if stage != .distill, let p = log.series(.pass1).last {
        rows.append(("pass@1 (step \(Int(p.x)))", String(format: "%.3f", p.y)))
    }
    if let v = log.series(.val_loss).last { rows.append(("val loss (step \(Int(v.x)))", String(format: "%.4f", v.y))) }
    if let v = log.series(.val_bpb).last { rows.append(("val bpb (step \(Int(v.x)))", String(format: "%.4f", v.y))) }
    if stage == .base, let data = FileManager.default.contents(atPath: out + "/base/base_eval.json"),
        let runs = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]], let e = runs.last,
        let l = (e["loss"] as? NSNumber)?.doubleValue, let b = (e["bpb"] as? NSNumber)?.doubleValue
    {
        let n = (e["tokens"] as? NSNumber)?.intValue.description ?? "?"
        rows.append(("base-eval", String(format: "loss %.4f, bpb %.4f on %@ tokens", l, b, n)))
    }
    if log.unreadable > 0 { rows.append(("unreadable log lines", "\(log.unreadable) (skipped)")) }
    return "| | |\n|---|---|\n" + rows.map { "| \($0.0) | \($0.1) |\n" }.joined() + "\n"
}

/// The stage's plot file name and SVG: train loss (raw and smoothed) with val loss, RL's reward with
/// pass@1, or distillation's KL to the teacher.
func stagePlot(_ log: StageLog, stage: Stage) -> (String, String) {
    let (key, name, yLabel, file): (LogFigure, String, String, String) =
        switch stage {
        case .rl: (.reward, "reward", "reward", "reward-rl.svg")
        case .distill: (.kl, "KL to the teacher", "nats/token", "kl-distill.svg")
        default: (.loss, "train loss", "loss (nats/token)", "loss-\(stage.folder).svg")
        }
    let raw = log.series(key)
    var plot = SVGPlot(title: "\(stage.title): \(key.rawValue)", xLabel: "step", yLabel: yLabel)
    plot.series = [
        .init(name: name, points: raw, color: "#9ecae1", width: 1),
        .init(
            name: name + " (EMA 0.9)", points: zip(raw, emaSmooth(raw.map(\.y))).map { ($0.x, $1) }, color: "#1f77b4",
            width: 2),
    ]
    if stage != .distill {  // (distillation's pass@1 is per task family: in its log)
        let (evalKey, evalName): (LogFigure, String) = stage == .rl ? (.pass1, "pass@1") : (.val_loss, "val loss")
        plot.series.append(
            .init(name: evalName, points: log.series(evalKey), color: "#d62728", width: 1.5, dash: "5,3", markers: true)
        )
    }
    return (file, plot.render())
}
