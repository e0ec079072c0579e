// The records of a stage's log.jsonl, one Codable struct per kind. The stages write them through the
// harness and the report reads them back with the same types, so the file's schema lives here only.
// Field names are the JSON keys (snake_case, as nanochat's logs and Python readers expect).

import Foundation

protocol LogRecord: Codable {
    var step: Int { get }
}

/// One optimizer step of a next-token stage (pretraining, mid-training, SFT).
struct TrainStepRecord: LogRecord {
    var step: Int
    var loss: Float
    var lr: Float  // the schedule's multiplier
    var tok_per_s: Int
    var tokens: Int  // tokens trained on so far
    var time: Double  // seconds since this run of the stage started
}

/// One step of RL: the mean reward of the sampled answers, the policy-gradient loss.
struct RLStepRecord: LogRecord {
    var step: Int
    var reward: Double
    var loss: Float
    var lr: Float?  // absent in logs written before it was recorded
    var tok_per_s: Int  // sampled tokens per second
    var time: Double
    var kl: Double? = nil  // with --kl: the mean per-token KL estimate to the reference (k3)
    var sampled: Int? = nil  // tokens sampled this step (absent in older logs)
    var accuracy: Double? = nil  // the fraction of sampled answers graded right (reward may add format)
}

/// One step of distillation: the mean per-token KL the stage minimises (on-policy: reverse KL, student
/// to teacher, on the student's samples; off-policy: forward KL on the teacher's), the surrogate loss.
struct DistillStepRecord: LogRecord {
    var step: Int
    var kl: Double
    var loss: Float
    var lr: Float
    var tok_per_s: Int  // sampled tokens per second
    var time: Double
    var sampled: Int  // tokens sampled this step (by the student, or by the teacher off-policy)
    var kept: Int? = nil  // with --only-correct: the answers graded right, the ones trained on
}

/// Validation loss and bits per byte.
struct ValRecord: LogRecord {
    var step: Int
    var val_loss: Double
    var val_bpb: Double
}

/// Greedy pass@1 on a validation set of a graded task.
struct PassRecord: LogRecord {
    var step: Int
    var pass1: Double
    var task: String? = nil  // absent: arithmetic (chat-rl's validation slice)
}

/// One line of a checkpoint folder's eval.jsonl: chat-eval's result on one task (it appends a block of
/// these per run; the report shows the last of each task).
struct TaskResultRecord: Codable {
    var source: String  // the stage evaluated
    var task: String  // "arithmetic", "choice (categorical)", "arithmetic pass@8", ...
    var correct: Int?
    var total: Int?
    var seed: UInt64?  // sampled results: the sampling seed
    var pass_at_k: [Double]?  // "arithmetic pass@k": pass@1 ... pass@k
}

/// A log line read back: whichever record kind it is (tried most specific first), or nil.
enum LoggedRecord {
    case train(TrainStepRecord), rl(RLStepRecord), distill(DistillStepRecord), val(ValRecord), pass(PassRecord)

    init?(json line: Data) {
        let d = JSONDecoder()
        if let r = try? d.decode(RLStepRecord.self, from: line) {
            self = .rl(r)
        } else if let r = try? d.decode(DistillStepRecord.self, from: line) {
            self = .distill(r)
        } else if let r = try? d.decode(TrainStepRecord.self, from: line) {
            self = .train(r)
        } else if let r = try? d.decode(ValRecord.self, from: line) {
            self = .val(r)
        } else if let r = try? d.decode(PassRecord.self, from: line) {
            self = .pass(r)
        } else {
            return nil
        }
    }

    var step: Int {
        switch self {
        case .train(let r): return r.step
        case .rl(let r): return r.step
        case .distill(let r): return r.step
        case .val(let r): return r.step
        case .pass(let r): return r.step
        }
    }
}

/// The figures the report reads from a log, by name.
enum LogFigure: String {
    case loss, reward, kl, lr, time, tokens, tok_per_s, val_loss, val_bpb, pass1

    func value(of record: LoggedRecord) -> Double? {
        switch (self, record) {
        case (.loss, .train(let r)): return Double(r.loss)
        case (.loss, .rl(let r)): return Double(r.loss)
        case (.reward, .rl(let r)): return r.reward
        case (.kl, .rl(let r)): return r.kl
        case (.kl, .distill(let r)): return r.kl
        case (.loss, .distill(let r)): return Double(r.loss)
        case (.lr, .distill(let r)): return Double(r.lr)
        case (.time, .distill(let r)): return r.time
        case (.tok_per_s, .distill(let r)): return Double(r.tok_per_s)
        case (.lr, .train(let r)): return Double(r.lr)
        case (.lr, .rl(let r)): return r.lr.map(Double.init)
        case (.time, .train(let r)): return r.time
        case (.time, .rl(let r)): return r.time
        case (.tokens, .train(let r)): return Double(r.tokens)
        case (.tok_per_s, .train(let r)): return Double(r.tok_per_s)
        case (.tok_per_s, .rl(let r)): return Double(r.tok_per_s)
        case (.val_loss, .val(let r)): return r.val_loss
        case (.val_bpb, .val(let r)): return r.val_bpb
        case (.pass1, .pass(let r)): return r.pass1
        default: return nil
        }
    }
}

/// Appends typed records to a log.jsonl, one JSON object per line (keys sorted, so lines are stable).
final class LogWriter {
    private let handle: FileHandle
    private let encoder: JSONEncoder
    let path: String

    /// Opens `path` for appending; `fresh` empties it first; `keepThrough` first drops the records of later
    /// steps (a resumed stage runs them again, and each step should appear once).
    init(path: String, fresh: Bool, keepThrough step: Int? = nil) throws {
        self.path = path
        if fresh || !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: Data()) else {
                throw UserError("cannot write \(path)")
            }
        } else if let step, let data = FileManager.default.contents(atPath: path) {
            struct Step: Decodable { var step: Int }
            let lines = data.split(separator: UInt8(ascii: "\n"))
            let kept = lines.filter { line in
                guard let s = try? JSONDecoder().decode(Step.self, from: Data(line)).step else { return true }
                return s <= step
            }
            if kept.count < lines.count {
                try writeAtomically(Data(kept.map { Data($0) + Data([UInt8(ascii: "\n")]) }.joined()), to: path)
            }
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw UserError("cannot write \(path)") }
        h.seekToEndOfFile()
        handle = h
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }
    deinit { try? handle.close() }

    /// Appends one record; a failed write (a full disk, a removed folder) is an error, not a crash.
    func write<R: Encodable>(_ record: R) throws {
        do {
            try handle.write(contentsOf: try encoder.encode(record) + Data([UInt8(ascii: "\n")]))
        } catch {
            throw UserError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
