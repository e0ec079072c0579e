// The conversation mixture of mid-training and SFT: identity conversations from data/chat/identity.jsonl
// plus every task family's train generator, deterministic from a seed (nanochat: the TaskMixture of
// mid_train.py and chat_sft.py). Mid-training and SFT draw different examples (different seeds).

struct MixtureEntry {
    var name: String
    var conversations: [Conversation]
    var epochs: Int
}

struct ChatMixture {
    var entries: [MixtureEntry]

    /// Every conversation `epochs` times, in a seeded shuffle.
    func conversations(seed: UInt64) -> [Conversation] {
        var all: [Conversation] = []  // every entry `epochs` times, then a seeded shuffle
        for e in entries { for _ in 0..<e.epochs { all += e.conversations } }
        return shuffledIndices(all.count, seed: seed).map { all[$0] }
    }

    var summary: String { entries.map { "\($0.name) \($0.conversations.count)×\($0.epochs)" }.joined(separator: ", ") }

    /// The default mixture: identity (2 epochs) and `perTask` examples of each task family, with their
    /// reasoning steps or, `terse`, only their final answers (TaskExample.terse).
    static func standard(
        identity: String = "data/chat/identity.jsonl", words: TaskWords, perTask: Int, seed: UInt64,
        terse: Bool = false
    ) throws -> ChatMixture {
        var entries = [MixtureEntry(name: "identity", conversations: try ConversationFile.load(identity), epochs: 2)]
        for kind in TaskKind.allCases {
            let examples = generateTask(kind, count: perTask, seed: seed, words: words).map { terse ? $0.terse : $0 }
            // Multiple choice: three epochs; its option-by-option comparisons need the most examples (LOG.md).
            entries.append(
                MixtureEntry(
                    name: kind.rawValue + (terse ? " (terse)" : ""), conversations: examples.map(\.conversation),
                    epochs: kind == .choice ? 3 : 1))
        }
        return ChatMixture(entries: entries)
    }
}

/// Mid-training's token stream: every conversation of the mixture rendered (each starts with <|bos|>,
/// cropped to a row), then as many corpus tokens again. Returns the stream and its conversation tokens.
func midTrainingStream(
    _ tok: Tokenizer, mixture: ChatMixture, corpus: [UInt16], seqLen: Int,
    seed: UInt64
) throws -> (stream: [UInt16], chatTokens: Int) {
    var stream: [UInt16] = []
    for c in mixture.conversations(seed: seed) {
        stream += try tok.renderConversation(c, maxTokens: seqLen + 1).ids.map { UInt16($0) }
    }
    let chatTokens = stream.count
    stream += corpus.prefix(chatTokens)
    return (stream, chatTokens)
}
