// The model's shape. Depth is the one dial, as in nanochat: C = 64·depth, head_dim 64, n_head = C/64.
// The other fields exist so that tests can build tiny models (e.g. head_dim 16) and GQA variants; `arch`
// switches off one modern piece at a time for the ablation ladder.

struct GPTConfig: Codable, Equatable, CustomStringConvertible {
    var sequenceLen = 256  // T: the context length the model is trained for
    var vocabSize = 4096  // V: tokens, including the special tokens
    var nLayer = 4  // L: transformer blocks
    var nHead = 4  // query heads
    var nKvHead = 4  // key/value heads (< nHead: grouped-query attention; 1: multi-query)
    var nEmbd = 256  // C: width of the residual stream
    /// A reward model (Train/Reward.swift): one more tensor, `score.weight` (1, C), reads a scalar off the
    /// final normed hidden state, as a sequence-classification head does. Saved as metadata score_head = 1.
    var scoreHead = false
    /// Low-rank adapters on the blocks' linear layers (Model/LoRA.swift): a LoRA stage's model is the base
    /// model plus these tensors, saved apart as an adapter folder (Train/Adapter.swift).
    var lora: LoRASpec?
    /// The ablation ladder's switches (Lessons/04-pretraining.md, `./run.sh ladder`); nanochat's by default.
    var arch = Architecture()

    enum CodingKeys: String, CodingKey {
        case sequenceLen = "sequence_len", vocabSize = "vocab_size", nLayer = "n_layer"
        case nHead = "n_head", nKvHead = "n_kv_head", nEmbd = "n_embd"
    }

    init(sequenceLen: Int, vocabSize: Int, nLayer: Int, nHead: Int, nKvHead: Int, nEmbd: Int) {
        self.sequenceLen = sequenceLen
        self.vocabSize = vocabSize
        self.nLayer = nLayer
        self.nHead = nHead
        self.nKvHead = nKvHead
        self.nEmbd = nEmbd
    }

    /// nanochat's sizing: C = 64·depth, head_dim 64.
    init(depth: Int, vocabSize: Int, sequenceLen: Int, nKvHead: Int? = nil) {
        let c = depth * 64
        self.init(
            sequenceLen: sequenceLen, vocabSize: vocabSize, nLayer: depth, nHead: c / 64,
            nKvHead: nKvHead ?? c / 64, nEmbd: c)
    }

    var headDim: Int { nEmbd / nHead }
    var kvDim: Int { nKvHead * headDim }

    /// Checks the shape; the message says what to change.
    func validate() throws {
        guard nLayer >= 1, nEmbd >= 1, nHead >= 1, vocabSize >= 1, sequenceLen >= 1 else {
            throw UserError("model config \(self): every size must be positive")
        }
        guard nEmbd % nHead == 0 else { throw UserError("n_embd \(nEmbd) must be a multiple of n_head \(nHead)") }
        guard headDim % 2 == 0 else { throw UserError("head_dim \(headDim) must be even for rotary embeddings") }
        guard arch.softcap.isFinite, arch.softcap == 0 || (1...1000).contains(arch.softcap) else {
            throw UserError("softcap \(arch.softcap) must be 0 (no cap) or from 1 to 1000")
        }
        guard nKvHead >= 1, nKvHead <= nHead, nHead % nKvHead == 0 else {
            throw UserError("n_kv_head \(nKvHead) must divide n_head \(nHead)")
        }
    }

    /// Parameters in matmuls (everything but the embedding table): nanochat's N for FLOPs.
    var matmulParams: Int { nLayer * (nEmbd * nEmbd * 2 + 2 * nEmbd * kvDim + 8 * nEmbd * nEmbd) + vocabSize * nEmbd }
    var numParams: Int { matmulParams + vocabSize * nEmbd + (scoreHead ? nEmbd : 0) + adapterParams }

    /// Parameters in the LoRA factors: r·(in + out) per adapted layer.
    var adapterParams: Int {
        guard let lora else { return 0 }
        return nLayer * lora.targets.reduce(0) { n, t in n + lora.rank * (t.shape(self).rows + t.shape(self).cols) }
    }

    /// Training FLOPs per token, as nanochat estimates: 6·N_matmul + 12·L·C·T (attention's QK and AV).
    var flopsPerToken: Double { 6 * Double(matmulParams) + 12 * Double(nLayer * nEmbd * sequenceLen) }

    var description: String {
        "n_layer \(nLayer), n_embd \(nEmbd), n_head \(nHead), n_kv_head \(nKvHead), vocab \(vocabSize), seq "
            + "\(sequenceLen)" + (scoreHead ? ", score head" : "") + (lora.map { ", \($0)" } ?? "")
            + (arch == Architecture() ? "" : ", \(arch)")
    }
}

/// The MLP's nonlinearity: relu(x)² (nanochat, from the Primer paper), relu(x) (the original
/// transformer) or GELU in its tanh form (GPT-2).
enum Activation: String, CaseIterable, Codable {
    case reluSquared = "relu2", relu, gelu
}

/// The pieces of nanochat's model that plain GPT-2 lacks, each of which can be switched off to measure what
/// it buys (the ablation ladder). A checkpoint saves only the switches that differ from these defaults, so
/// nanochat-shaped checkpoints are unchanged by their existence.
struct Architecture: Equatable, CustomStringConvertible {
    static let defaultSoftcap: Float = 15
    var rotary = true  // rotary position embeddings on q and k; off: order only through the causal mask
    var qkNorm = true  // rmsnorm of every head's q and k after rotary
    var activation = Activation.reluSquared
    var softcap = Architecture.defaultSoftcap  // logits = cap·tanh(z/cap); 0 = uncapped

    var description: String {
        var off: [String] = []
        if !rotary { off.append("no rotary") }
        if !qkNorm { off.append("no qk-norm") }
        if activation != .reluSquared { off.append(activation.rawValue) }
        if softcap != Architecture.defaultSoftcap { off.append(softcap == 0 ? "no softcap" : "softcap \(softcap)") }
        return off.joined(separator: ", ")
    }
}
