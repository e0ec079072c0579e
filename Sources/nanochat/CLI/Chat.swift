// `nanochat chat`: talk to a checkpoint in a terminal REPL, or ask one question with -p
// (nanochat: scripts/chat_cli.py). Streams the answer, keeps the KV cache across turns, shows calculator
// calls dimmed on a terminal; Ctrl-C stops the answer, Ctrl-D (or end of input) quits.

import ArgumentParser
import Foundation

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with the model (REPL), or answer one prompt with -p.")

    @OptionGroup var opts: RunOptions
    @Option(name: .shortAndLong, help: "Answer this prompt and exit ('-' reads it from stdin).") var prompt: String?
    @Option(help: "Which stage's checkpoint: \(Stage.names) (default: the newest that exists).") var source: String?
    @Option(help: "Checkpoint folder (overrides --source).") var checkpoint: String?
    @Option(help: "A LoRA adapter folder to put on its base (or on --checkpoint), merged.") var adapter: String?
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0.6
    @Option(help: "Sample from the k most likely tokens (0 = all).") var topK = 50
    @Option(help: "Seed for sampling.") var seed: UInt64 = 42
    @Option(help: "Most tokens per answer.") var maxTokens = 256
    @Option(help: "A system message folded into the first user turn.") var system: String?
    @Flag(help: "Show tokens/s after each answer.") var verbose = false

    func validate() throws {
        if let source, Stage(rawValue: source) == nil {
            throw ValidationError(
                "--source must be one of \(Stage.newestFirst.map(\.rawValue).joined(separator: ", "))")
        }
        guard temperature >= 0, topK >= 0, maxTokens >= 1 else {
            throw ValidationError("--temperature and --top-k must be >= 0, --max-tokens >= 1")
        }
    }

    func run() throws {
        try runReportingErrors {
            let loaded = try loadModel(
                out: opts.out, stage: source.flatMap(Stage.init(rawValue:)), checkpoint: checkpoint, adapter: adapter)
            let model = loaded.model, tok = loaded.tokenizer
            let options = SamplingOptions(temperature: temperature, topK: topK, seed: seed, maxTokens: maxTokens)
            let session = ChatSession(engine: Engine(model: model, tokenizer: tok), options: options, system: system)
            let style = TerminalStyle(enabled: isatty(STDOUT_FILENO) != 0)
            let loadedLine = "loaded " + loaded.description

            if let prompt {
                let text =
                    prompt == "-"
                    ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : prompt
                fputs("nanochat: \(loadedLine)\n", stderr)
                try answer(session, text.trimmingCharacters(in: .whitespacesAndNewlines), style)
                return
            }
            print("nanochat chat: \(loadedLine). Type /help for commands, Ctrl-D to quit.")
            installStopHandler([SIGINT])
            while true {
                print(style.bold("you> "), terminator: "")
                fflush(stdout)
                guard let line = readLine() else {
                    print("")
                    break
                }
                stopRequested = 0
                let input = line.trimmingCharacters(in: .whitespaces)
                if input.isEmpty { continue }
                if input.hasPrefix("/") {
                    if !command(input, session, tok, style) { break }
                    continue
                }
                do { try answer(session, input, style) } catch let e as UserError { print(style.dim("(\(e.message))")) }
            }
        }
    }

    /// Streams one answer; Ctrl-C (stopRequested) ends it early.
    func answer(_ session: ChatSession, _ text: String, _ style: TerminalStyle) throws {
        print(style.bold("nanochat> "), terminator: "")
        let t0 = now()
        let (tokens, dropped) = try session.reply(text) { piece, isTool in
            print(isTool ? style.dim(piece) : piece, terminator: "")
            fflush(stdout)
            return stopRequested == 0
        }
        print("")
        if stopRequested != 0 {
            print(style.dim("(stopped)"))
            stopRequested = 0
        }
        if dropped > 0 {
            print(
                style.dim(
                    "(the conversation outgrew the \(session.engine.contextLength)-token context: dropped the "
                        + "\(dropped) oldest messages)"
                ))
        }
        if verbose {
            let dt = now() - t0
            print(
                style.dim(
                    String(format: "(%d tokens in %.2f s, %.1f tokens/s)", tokens.count, dt, Double(tokens.count) / dt))
            )
        }
    }

    /// /votes: `n` answers to `question` alone (the conversation is not part of the prompt), sampled at the
    /// session's temperature (1 when it is greedy) with seeds seed, seed+1, ...; prints each answer's vote,
    /// the tally and the majority (ties to the answer sampled first).
    func vote(_ n: Int, _ question: String, _ session: ChatSession, _ tok: Tokenizer, _ style: TerminalStyle) throws {
        let prompt = try tok.renderForCompletion(Conversation(messages: [Message(.user, question)]))
        var keys: [String?] = []
        for i in 0..<n {
            var o = session.options
            if o.temperature == 0 { o.temperature = 1 }
            o.seed = session.options.seed &+ UInt64(i)
            let text = answerText(tok, session.engine.generate(prompt: prompt, options: o))
            let key = votingKey(.arithmetic, text) ?? finalAnswer(text).flatMap { $0.isEmpty ? nil : $0.lowercased() }
            keys.append(key)
            print(style.dim("  \(i + 1). " + text.replacingOccurrences(of: "\n", with: " / ")))
        }
        var tally: [String: Int] = [:]
        for k in keys { tally[k ?? "(no final answer)", default: 0] += 1 }
        let shown = tally.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        guard let win = majorityVote(keys) else { return print("votes: \(shown); no sample gave a final answer") }
        print("votes: \(shown) -> " + style.bold(win.answer) + " (\(win.votes) of \(n))")
    }

    /// Handles a /command; returns false to quit.
    func command(_ input: String, _ session: ChatSession, _ tok: Tokenizer, _ style: TerminalStyle) -> Bool {
        let parts = input.split(separator: " ", maxSplits: 1).map(String.init)
        let arg = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        switch parts[0] {
        case "/quit", "/exit": return false
        case "/help":
            print(
                """
                /reset            forget the conversation
                /temperature T    sampling temperature (0 = greedy), now \(session.options.temperature)
                /topk K           sample from the K most likely tokens (0 = all), now \(session.options.topK)
                /seed N           sampling seed, now \(session.options.seed)
                /tokens           the last exchange as token ids and pieces
                /votes N QUESTION N sampled answers to QUESTION (on its own), their final answers tallied
                /quit             leave (or Ctrl-D); Ctrl-C stops an answer
                """)
        case "/reset":
            session.reset()
            print(style.dim("(conversation cleared)"))
        case "/temperature":
            if let t = Float(arg), t >= 0 {
                session.options.temperature = t
                print(style.dim("(temperature \(t))"))
            } else {
                print(style.dim("(usage: /temperature T, with T >= 0)"))
            }
        case "/topk":
            if let k = Int(arg), k >= 0 {
                session.options.topK = k
                print(style.dim("(top-k \(k))"))
            } else {
                print(style.dim("(usage: /topk K, with K >= 0)"))
            }
        case "/seed":
            if let s = UInt64(arg) {
                session.options.seed = s
                print(style.dim("(seed \(s))"))
            } else {
                print(style.dim("(usage: /seed N)"))
            }
        case "/tokens":
            if session.lastExchange.isEmpty { print(style.dim("(no exchange yet)")) }
            for id in session.lastExchange { print(String(format: "%6d  ", id) + displayToken(tok.tokenBytes(id))) }
        case "/votes":
            let p = arg.split(separator: " ", maxSplits: 1).map(String.init)
            guard p.count == 2, let n = Int(p[0]), (2...64).contains(n) else {
                print(style.dim("(usage: /votes N QUESTION, with N from 2 to 64)"))
                break
            }
            do { try vote(n, p[1], session, tok, style) } catch let e as UserError {
                print(style.dim("(\(e.message))"))
            } catch {
                print(style.dim("(\(error.localizedDescription))"))
            }
        default: print(style.dim("(unknown command \(parts[0]); /help lists them)"))
        }
        return true
    }
}

/// ANSI styling when writing to a terminal, plain text otherwise.
struct TerminalStyle {
    let enabled: Bool
    func dim(_ s: String) -> String { enabled ? "\u{1B}[2m" + s + "\u{1B}[0m" : s }
    func bold(_ s: String) -> String { enabled ? "\u{1B}[1m" + s + "\u{1B}[0m" : s }
}
