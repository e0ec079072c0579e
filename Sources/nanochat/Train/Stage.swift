// The stages of the pipeline that make a checkpoint, in order: each one's folder in the run directory,
// its title, its subcommand and the stage it starts from. The report, chat, chat-eval and `nanochat
// stages` (which run.sh prints) read this list: a new stage is one more case here.

enum Stage: String, CaseIterable {
    case base, mid, sft, rl, distill

    /// The stage's folder in the run directory (OUT/<folder>): checkpoint, log.jsonl, eval.jsonl.
    var folder: String { rawValue }

    var title: String {
        switch self {
        case .base: return "Base pretraining"
        case .mid: return "Mid-training"
        case .sft: return "Supervised fine-tuning"
        case .rl: return "Reinforcement learning"
        case .distill: return "On-policy distillation"
        }
    }

    /// The subcommand that trains it.
    var command: String {
        switch self {
        case .base: return "base-train"
        case .mid: return "mid-train"
        case .sft: return "chat-sft"
        case .rl: return "chat-rl"
        case .distill: return "chat-distill"
        }
    }

    /// The checkpoint it starts from (nil: from scratch).
    var startsFrom: Stage? {
        switch self {
        case .base: return nil
        case .mid: return .base
        case .sft: return .mid
        case .rl: return .sft
        case .distill: return .rl  // the student; the teacher is the SFT model
        }
    }

    /// Optimizer steps when the command is not told otherwise: the default run's (about 17 minutes on
    /// 2 cores in all). run.sh's presets override them; nothing else repeats them.
    var defaultSteps: Int {
        switch self {
        case .base: return 300
        case .mid: return 120
        case .sft: return 200
        case .rl: return 120
        case .distill: return 60
        }
    }

    /// Newest first: the order in which `chat` looks for a checkpoint.
    static var newestFirst: [Stage] { allCases.reversed() }

    /// "base, mid, sft or rl", for help texts and errors.
    static var names: String {
        let all = allCases.map(\.rawValue)
        return all.dropLast().joined(separator: ", ") + " or " + all.last!
    }

    func dir(in out: String) -> String { out + "/" + folder }
}
