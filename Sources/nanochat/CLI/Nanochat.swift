// The nanochat binary: one subcommand per stage of the pipeline, named after nanochat's scripts.

import ArgumentParser
import Foundation

@main
struct Nanochat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nanochat",
        abstract: "The whole ChatGPT pipeline on a CPU: tokenizer, pretraining, fine-tuning, RL, chat.",
        subcommands: [
            TokTrain.self, TokEval.self, Tokenize.self, BaseTrain.self, BaseEval.self, MidTrain.self, ChatSFT.self,
            ChatRL.self, ChatDistill.self, Pairs.self, RewardTrain.self, ChatDPO.self, LoRAMerge.self,
            ChatEval.self, Chat.self, Bench.self, Report.self, Download.self, Stages.self,
        ]
    )
}

/// Options every subcommand shares: where the run's outputs live.
struct RunOptions: ParsableArguments {
    @Option(help: "Run folder for every stage's outputs ($NANOCHAT_OUT when set).")
    var out: String = ProcessInfo.processInfo.environment["NANOCHAT_OUT"] ?? "out"

    var tokenizerDir: String { out + "/tokenizer" }

    func validate() throws {
        // An empty --out (or NANOCHAT_OUT=) would make "/tokenizer", "/base", ... the run's folders.
        guard !out.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--out (or NANOCHAT_OUT) is empty: give the run folder, e.g. --out out")
        }
    }
}

/// Runs a command body, turning a UserError into a one-line message on stderr and exit status 1. Any other
/// error (one from Foundation that no check turned into a UserError) gets the same one line, not a dump.
func runReportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let e as UserError {
        fputs("error: \(e.message)\n", stderr)
        throw ExitCode(1)
    } catch let e as ExitCode {
        throw e
    } catch {
        fputs("error: \(error.localizedDescription)\n", stderr)
        throw ExitCode(1)
    }
}
