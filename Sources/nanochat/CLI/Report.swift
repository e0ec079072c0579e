// `nanochat report`: the run's report card, OUT/report/report.md with an SVG plot per stage
// (nanochat: nanochat/report.py). Run it from the repository so that the code size and commit are found.

import ArgumentParser
import Foundation

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write OUT/report/report.md: machine, code, every stage's metrics, task tables and plots.")

    @OptionGroup var opts: RunOptions

    @Option(help: "Repository folder whose code is counted and whose git commit is reported.")
    var code = "."

    func run() throws {
        try runReportingErrors {
            guard FileManager.default.fileExists(atPath: opts.out) else {
                throw UserError("run folder \(opts.out) not found: pass the folder the stages wrote to with --out")
            }
            let md = try writeReport(out: opts.out, codeRoot: code)
            let plots = md.components(separatedBy: "![](").count - 1
            print("report: wrote \(opts.out)/report/report.md and \(plots) plot\(plots == 1 ? "" : "s")")
        }
    }
}
