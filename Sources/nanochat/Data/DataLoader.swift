// The pretraining data loader: rows of T+1 tokens (inputs are the first T, targets the last T), every row
// starting with <|bos|>, packed best-fit from a buffer of documents as nanochat's BOS-aligned loader does:
// put the largest piece that fits, and when none fits, crop the shortest to fill the row. Nothing is
// dropped: a document longer than a row is split into pieces, and the rest of a cropped piece goes back
// into the buffer; every continuation piece starts with <|bos|> too. Deterministic from a seed, and its
// position is one number (rows produced), so a resumed run replays to exactly the same batches.

struct DataLoader {
    let tokens: [UInt16]
    let bos: UInt16
    let T: Int
    let seed: UInt64
    /// Pieces of documents (start, length) in the token stream; length ≤ T+1 (or T, plus a virtual BOS).
    private var pieces: [(start: Int, count: Int, needsBOS: Bool)] = []
    private var order: [Int] = []
    private var cursor = 0, epoch = 0
    private var buffer: [(start: Int, count: Int, needsBOS: Bool)] = []
    static let bufferSize = 64
    /// Rows produced so far: the loader's whole state.
    private(set) var rowsProduced = 0

    init(tokens: [UInt16], bos: Int, T: Int, seed: UInt64) throws {
        guard !tokens.isEmpty else { throw UserError("the token shard is empty: nothing to train on") }
        self.tokens = tokens
        self.bos = UInt16(bos)
        self.T = T
        self.seed = seed
        // Documents start at each <|bos|>; split into pieces that fit a row.
        var starts = tokens.indices.filter { tokens[$0] == self.bos }
        if starts.first != 0 { starts.insert(0, at: 0) }
        for (k, s) in starts.enumerated() {
            let end = k + 1 < starts.count ? starts[k + 1] : tokens.count
            var p = s, first = tokens[s] == self.bos
            while p < end {
                let room = first ? T + 1 : T  // continuation pieces get a <|bos|> in front
                let n = min(room, end - p)
                if n >= 2 || (!first && n >= 1) { pieces.append((p, n, !first)) }
                p += n
                first = false
            }
        }
        guard !pieces.isEmpty else { throw UserError("the token shard has no document with at least 2 tokens") }
        shuffleEpoch()
    }

    private mutating func shuffleEpoch() {
        order = shuffledIndices(pieces.count, seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
        cursor = 0
    }

    private mutating func refill() {
        while buffer.count < DataLoader.bufferSize {
            if cursor == order.count {
                epoch += 1
                shuffleEpoch()
            }
            buffer.append(pieces[order[cursor]])
            cursor += 1
        }
    }

    /// Fills one row of T+1 tokens.
    mutating func nextRow(into row: UnsafeMutablePointer<Int32>) {
        var filled = 0
        while filled < T + 1 {
            refill()
            let room = T + 1 - filled
            // Largest piece that fits whole (its length includes the virtual <|bos|>).
            var best = -1, bestLen = 0
            for (i, p) in buffer.enumerated() {
                let len = p.count + (p.needsBOS ? 1 : 0)
                if len <= room && len > bestLen {
                    best = i
                    bestLen = len
                }
            }
            var piece: (start: Int, count: Int, needsBOS: Bool)
            var take: Int
            if best >= 0 {
                piece = buffer.remove(at: best)
                take = piece.count
            } else {
                // Nothing fits: crop the shortest piece to fill the row; its rest goes back to the buffer.
                let i = buffer.indices.min { buffer[$0].count < buffer[$1].count }!
                piece = buffer[i]
                take = room - (piece.needsBOS ? 1 : 0)
                if take <= 0 {
                    buffer[i] = piece
                    row[filled] = Int32(bos)
                    filled += 1
                    continue
                }
                buffer[i] = (piece.start + take, piece.count - take, true)
            }
            if piece.needsBOS {
                row[filled] = Int32(bos)
                filled += 1
            }
            for k in 0..<take { row[filled + k] = Int32(tokens[piece.start + k]) }
            filled += take
        }
        rowsProduced += 1
    }

    /// Fills a batch: inputs (B, T) and targets (B, T) from B rows of T+1.
    mutating func nextBatch(B: Int, inputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>) {
        let row = UnsafeMutablePointer<Int32>.allocate(capacity: T + 1)
        defer { row.deallocate() }
        for b in 0..<B {
            nextRow(into: row)
            (inputs + b * T).update(from: row, count: T)
            (targets + b * T).update(from: row + 1, count: T)
        }
    }

    /// Replays the loader to a saved position (rows produced).
    mutating func skip(rows: Int) {
        let row = UnsafeMutablePointer<Int32>.allocate(capacity: T + 1)
        defer { row.deallocate() }
        while rowsProduced < rows { nextRow(into: row) }
    }
}
