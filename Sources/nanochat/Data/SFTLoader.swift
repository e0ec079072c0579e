// The SFT data loader: rows of T+1 tokens packed best-fit with whole conversations (largest that fits
// first), padded with a token whose weight is 0, each target weighted by the chat mask (1 = assistant
// token to learn). A conversation longer than a row is cropped to the row, never left in the buffer to
// clog it (nanochat's SFT loss went NaN that way at short sequence lengths, its issue #590). Each
// conversation appears exactly once per epoch; the order is a seeded shuffle; the position is one number.

/// What a training loop needs from a data source.
protocol BatchSource {
    /// Fills inputs/targets (B·T) and, when the source has them, per-token weights; returns whether it did.
    mutating func nextBatch(
        B: Int, inputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>,
        weights: UnsafeMutablePointer<Float>
    ) -> Bool
    var rowsProduced: Int { get }
    mutating func skip(rows: Int)
}

extension DataLoader: BatchSource {
    mutating func nextBatch(
        B: Int, inputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>,
        weights: UnsafeMutablePointer<Float>
    ) -> Bool {
        nextBatch(B: B, inputs: inputs, targets: targets)
        return false
    }
}

struct SFTLoader: BatchSource {
    let docs: [(ids: [Int32], mask: [UInt8])]
    let T: Int, pad: Int32, seed: UInt64
    private var order: [Int] = [], cursor = 0, epoch = 0
    private var buffer: [Int] = []
    static let bufferSize = 32
    private(set) var rowsProduced = 0
    private(set) var cropped = 0

    /// `conversations` are rendered (ids, mask) pairs; those longer than T+1 are cropped here.
    init(conversations: [(ids: [Int], mask: [UInt8])], T: Int, pad: Int, seed: UInt64) throws {
        guard !conversations.isEmpty else { throw UserError("no conversations to train on") }
        var docs: [(ids: [Int32], mask: [UInt8])] = [], cropped = 0
        for c in conversations where c.ids.count >= 2 {
            if c.ids.count > T + 1 { cropped += 1 }
            docs.append((c.ids.prefix(T + 1).map { Int32($0) }, Array(c.mask.prefix(T + 1))))
        }
        self.docs = docs
        self.T = T
        self.pad = Int32(pad)
        self.seed = seed
        self.cropped = cropped
        shuffleEpoch()
    }

    private mutating func shuffleEpoch() {
        order = shuffledIndices(docs.count, seed: seed &+ UInt64(epoch) &* 0x2545_F491)
        cursor = 0
    }

    /// Tops the buffer up from the current epoch only, so that every conversation is used exactly once
    /// per epoch; a new epoch starts when the buffer has run dry.
    private mutating func refill() {
        if buffer.isEmpty && cursor == order.count {
            epoch += 1
            shuffleEpoch()
        }
        while buffer.count < SFTLoader.bufferSize && cursor < order.count {
            buffer.append(order[cursor])
            cursor += 1
        }
    }

    /// Fills one row: ids (T+1) and the weight of each target position (T).
    mutating func nextRow(ids: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Float>) {
        var filled = 0
        refill()
        while true {
            let room = T + 1 - filled
            var best = -1
            for (i, d) in buffer.enumerated()
            where docs[d].ids.count <= room && (best < 0 || docs[d].ids.count > docs[buffer[best]].ids.count) {
                best = i
            }
            if best < 0 { break }
            let d = buffer.remove(at: best)
            refill()
            for (k, id) in docs[d].ids.enumerated() {
                ids[filled + k] = id
                // The weight of predicting token filled+k sits at target position filled+k-1.
                if filled + k >= 1 { weights[filled + k - 1] = k == 0 ? 0 : Float(docs[d].mask[k]) }
            }
            filled += docs[d].ids.count
            if filled == T + 1 { break }
        }
        for k in filled..<(T + 1) {
            ids[k] = pad
            if k >= 1 { weights[k - 1] = 0 }
        }
        rowsProduced += 1
    }

    mutating func nextBatch(
        B: Int, inputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>,
        weights: UnsafeMutablePointer<Float>
    ) -> Bool {
        let row = UnsafeMutablePointer<Int32>.allocate(capacity: T + 1)
        defer { row.deallocate() }
        for b in 0..<B {
            nextRow(ids: row, weights: weights + b * T)
            (inputs + b * T).update(from: row, count: T)
            (targets + b * T).update(from: row + 1, count: T)
        }
        return true
    }

    mutating func skip(rows: Int) {
        let ids = UnsafeMutablePointer<Int32>.allocate(capacity: T + 1),
            w = UnsafeMutablePointer<Float>.allocate(capacity: T)
        defer {
            ids.deallocate()
            w.deallocate()
        }
        while rowsProduced < rows { nextRow(ids: ids, weights: w) }
    }
}
