// `nanochat stages`: the pipeline's training stages in order, from the one list in Train/Stage.swift
// (`./run.sh help` prints it).

import ArgumentParser

struct Stages: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the training stages in order: folder, command, starting point.")

    func run() {
        print("stage  command     starts from  default steps  title")
        for s in Stage.allCases {
            let from = s.startsFrom?.folder ?? "scratch"
            let cells = [s.folder.padding(6), s.command.padding(11), from.padding(12), "\(s.defaultSteps)".padding(14)]
            print(cells.joined(separator: " ") + " " + s.title)
        }
    }
}

private extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
