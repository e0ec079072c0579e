// The inference engine (nanochat: engine.py): prefill the prompt in one batched pass, then decode one
// token at a time through the KV cache; sample with temperature and top-k; stop at <|assistant_end|> or
// <|bos|> or the token budget. Tool use: the tokens between <|python_start|> and <|python_end|> go to
// the Calculator, and its answer is forced into the sequence as <|output_start|> answer <|output_end|>
// (those tokens are marked `forced`: the model did not choose them, so RL must not train on them).

struct SamplingOptions {
    var temperature: Float = 0.8  // 0 = greedy
    var topK = 50  // 0 = all tokens
    var seed: UInt64 = 42
    var maxTokens = 256
}

/// One generated token: the id, and whether the engine forced it (tool output) rather than sampling it.
struct GeneratedToken: Equatable {
    var id: Int
    var forced: Bool
}

/// The text of an answer as the graders read it: special tokens (tool-call markers) left out.
func answerText(_ tok: Tokenizer, _ tokens: [GeneratedToken]) -> String {
    tok.decode(tokens.map(\.id).filter { !tok.isSpecial($0) })
}

final class Engine {
    let model: GPT
    let tok: Tokenizer
    let cache: KVCache
    /// Which rows of the last generate/generateBatch ended by choosing <|assistant_end|> (not by the
    /// token budget, the context length or <|bos|>): RL trains that end token only for them.
    private(set) var lastEnded: [Bool] = []
    /// Tokens currently in the cache (row 0), so a chat can extend them instead of starting over.
    private(set) var cached: [Int] = []
    private let pythonStart, pythonEnd, outputStart, outputEnd, assistantEnd, bos: Int
    /// Chooses the next token of a row from its logits instead of sampling (tests script the model's
    /// choices with it). nil = sample with the options' temperature and top-k.
    var policy: ((_ row: Int, _ logits: UnsafePointer<Float>) -> Int)?

    init(model: GPT, tokenizer: Tokenizer, rows: Int = 1) {
        self.model = model
        tok = tokenizer
        cache = KVCache(config: model.config, rows: rows)
        pythonStart = tok.id(.pythonStart)
        pythonEnd = tok.id(.pythonEnd)
        outputStart = tok.id(.outputStart)
        outputEnd = tok.id(.outputEnd)
        assistantEnd = tok.id(.assistantEnd)
        bos = tok.bosId
    }

    var contextLength: Int { model.config.sequenceLen }

    func reset() {
        cache.reset()
        cached = []
    }

    /// Feeds tokens into row 0's cache (in chunks that fit one pass); returns the last position's logits.
    @discardableResult
    private func feed(_ ids: [Int]) -> UnsafePointer<Float> {
        precondition(!ids.isEmpty)
        let chunk = model.maxBatch * model.config.sequenceLen
        var logits: UnsafePointer<Float>!
        var start = 0
        while start < ids.count {
            let part = ids[start..<min(ids.count, start + chunk)].map { Int32($0) }
            logits = model.forward(part, B: 1, T: part.count, cache: cache) + (part.count - 1) * model.config.vocabSize
            start += part.count
        }
        cached += ids
        return logits
    }

    /// Generates after `prompt`, reusing the cache when it already holds a prefix of the prompt.
    /// `onToken` sees every token as it is produced; returning false stops generation (Ctrl-C).
    func generate(
        prompt: [Int], options: SamplingOptions, onToken: (GeneratedToken) -> Bool = { _ in true }
    ) -> [GeneratedToken] {
        generateBatch(prompt: prompt, samples: 1, options: options) { _, t in onToken(t) }[0]
    }

    /// `samples` continuations of one prompt: the prompt is prefilled once and its cache copied to every
    /// row; then each step decodes one token per row. Forced tool-output tokens are queued per row and
    /// fed one per step, so the rows stay in step (as nanochat's engine does).
    func generateBatch(
        prompt: [Int], samples: Int, options: SamplingOptions,
        onToken: (Int, GeneratedToken) -> Bool = { _, _ in true }
    ) -> [[GeneratedToken]] {
        precondition(!prompt.isEmpty, "a prompt needs at least one token")
        precondition(samples >= 1 && samples <= cache.rows, "the engine was made for \(cache.rows) rows")
        var rng = RNG(seed: options.seed)
        let V = model.config.vocabSize
        // Reuse the cache only when it holds exactly a prefix of this prompt (an empty `cached` after a
        // batch means the cache holds that batch's rows: start over).
        if samples > 1 || cached.isEmpty || cached.count >= prompt.count || !prompt.starts(with: cached) { reset() }
        let first = feed(Array(prompt[cached.count...]))
        if samples > 1 { cache.broadcastRowZero() }
        var rowLogits = [Float](UnsafeBufferPointer(start: first, count: V))
        var logits = [[Float]](repeating: rowLogits, count: samples)
        var out = [[GeneratedToken]](repeating: [], count: samples)
        var endedRows = [Bool](repeating: false, count: samples)
        var done = [Bool](repeating: false, count: samples)
        var forcedQueue = [[Int]](repeating: [], count: samples)
        var inPython = [Bool](repeating: false, count: samples), pythonTokens = [[Int]](repeating: [], count: samples)
        var step = [Int32](repeating: 0, count: samples)
        while !done.allSatisfy({ $0 }) && cache.length < contextLength {
            for r in 0..<samples where !done[r] {
                let token: GeneratedToken
                if !forcedQueue[r].isEmpty {
                    token = GeneratedToken(id: forcedQueue[r].removeFirst(), forced: true)
                } else {
                    let next = logits[r].withUnsafeBufferPointer {
                        policy?(r, $0.baseAddress!)
                            ?? sampleToken(
                                $0.baseAddress!, V, temperature: options.temperature, topK: options.topK, rng: &rng)
                    }
                    if next == assistantEnd || next == bos {
                        done[r] = true
                        endedRows[r] = next == assistantEnd
                        continue
                    }
                    token = GeneratedToken(id: next, forced: false)
                    if next == pythonStart {
                        inPython[r] = true
                        pythonTokens[r] = []
                    } else if next == pythonEnd && inPython[r] {
                        inPython[r] = false
                        let result = Calculator.run(tok.decode(pythonTokens[r]))
                        forcedQueue[r] = [outputStart] + tok.encode(result) + [outputEnd]
                    } else if inPython[r] {
                        pythonTokens[r].append(next)
                    }
                }
                out[r].append(token)
                step[r] = Int32(token.id)
                if !onToken(r, token) || out[r].count >= options.maxTokens { done[r] = true }
            }
            if done.allSatisfy({ $0 }) { break }
            // One decode step for every row (finished rows repeat their last token; it is ignored).
            let p = model.forward(step, B: samples, T: 1, cache: cache)
            for r in 0..<samples {
                rowLogits = [Float](UnsafeBufferPointer(start: p + r * V, count: V))
                logits[r] = rowLogits
            }
            if samples == 1 { cached.append(Int(step[0])) }
        }
        lastEnded = endedRows
        if samples > 1 { cached = [] }  // the cache now holds several rows: do not extend it later
        return out
    }
}
