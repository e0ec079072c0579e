// Byte-level BPE training, as nanochat's rustbpe does it: split the text into chunks, count each unique
// chunk once, then repeatedly merge the most frequent adjacent pair, updating pair counts incrementally
// (only the words that contain the merged pair are touched) and picking the best pair from a lazy max-heap.
// Ranks 0-255 are the bytes; merge i creates token 256+i. Ties go to the smaller pair (a, then b).

import Dispatch

/// A pair of token ids packed into one key: a in the high half, b in the low half.
@inline(__always) func pairKey(_ a: UInt32, _ b: UInt32) -> UInt64 { UInt64(a) << 32 | UInt64(b) }

/// The unique chunks of a corpus and how often each occurs.
struct ChunkCounts {
    var chunks: [[UInt8]] = []
    var counts: [Int] = []
    var totalBytes = 0
}

/// Splits every document into chunks and counts the unique ones. Uses two threads: documents are cut at
/// a newline followed by a printable ASCII byte, where the split pattern always ends a chunk.
func countChunks(_ documents: [[UInt8]], threads: Int = 2) -> ChunkCounts {
    // Cut the corpus into pieces of roughly equal size at safe points.
    var pieces: [(doc: Int, start: Int, end: Int)] = []
    let total = documents.reduce(0) { $0 + $1.count }
    let target = max(1 << 16, total / (threads * 8))
    for (d, doc) in documents.enumerated() {
        var s = 0
        while s < doc.count {
            var e = min(doc.count, s + target)
            while e < doc.count, !(doc[e - 1] == 0x0A && doc[e] > 0x20 && doc[e] < 0x7F) { e += 1 }
            pieces.append((d, s, e))
            s = e
        }
    }
    // Each thread counts its share of pieces into its own tables; then the tables are merged.
    var short = [[ChunkKey: Int]](repeating: [:], count: threads)
    var long = [[[UInt8]: Int]](repeating: [:], count: threads)
    short.withUnsafeMutableBufferPointer { shortTables in
        long.withUnsafeMutableBufferPointer { longTables in
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var s: [ChunkKey: Int] = [:], l: [[UInt8]: Int] = [:]
                s.reserveCapacity(1 << 16)
                for k in stride(from: t, to: pieces.count, by: threads) {
                    let piece = pieces[k]
                    documents[piece.doc].withUnsafeBufferPointer { whole in
                        let p = UnsafeBufferPointer(rebasing: whole[piece.start..<piece.end])
                        splitChunks(p) { a, b in
                            if b - a <= ChunkKey.maxLength {
                                s[ChunkKey(p, a, b), default: 0] += 1
                            } else {
                                l[Array(p[a..<b]), default: 0] += 1
                            }
                        }
                    }
                }
                shortTables[t] = s
                longTables[t] = l
            }
        }
    }
    var merged = short[0], mergedLong = long[0]
    for t in 1..<threads {
        for (k, v) in short[t] { merged[k, default: 0] += v }
        for (k, v) in long[t] { mergedLong[k, default: 0] += v }
    }
    // Sorted order makes training independent of hash-table iteration order.
    var entries: [([UInt8], Int)] = merged.map { ($0.key.bytes, $0.value) } + mergedLong.map { ($0.key, $0.value) }
    entries.sort { $0.0.lexicographicallyPrecedes($1.0) }
    var result = ChunkCounts()
    result.chunks = entries.map { $0.0 }
    result.counts = entries.map { $0.1 }
    result.totalBytes = total
    return result
}

/// A max-heap of (count, pair); ties broken toward the smaller pair. Entries may be stale: the caller
/// checks the popped count against the live table (lazy deletion).
struct PairHeap {
    var items: [(count: Int, pair: UInt64)] = []

    @inline(__always) static func above(_ x: (count: Int, pair: UInt64), _ y: (count: Int, pair: UInt64)) -> Bool {
        x.count > y.count || (x.count == y.count && x.pair < y.pair)
    }

    mutating func push(_ count: Int, _ pair: UInt64) {
        items.append((count, pair))
        var k = items.count - 1
        while k > 0 {
            let parent = (k - 1) / 2
            if !PairHeap.above(items[k], items[parent]) { break }
            items.swapAt(k, parent)
            k = parent
        }
    }

    mutating func pop() -> (count: Int, pair: UInt64)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var k = 0
            while true {
                let l = 2 * k + 1, r = l + 1
                var best = k
                if l < items.count, PairHeap.above(items[l], items[best]) { best = l }
                if r < items.count, PairHeap.above(items[r], items[best]) { best = r }
                if best == k { break }
                items.swapAt(k, best)
                k = best
            }
        }
        return top
    }
}

/// Learns `numMerges` merges from chunk counts. Returns the merged pairs in order (merge i makes id 256+i).
func trainBPE(_ counted: ChunkCounts, numMerges: Int) -> [(UInt32, UInt32)] {
    // Words: every unique chunk as token ids, stored flat; lengths shrink as merges apply.
    let numWords = counted.chunks.count
    var start = [Int](repeating: 0, count: numWords), length = [Int](repeating: 0, count: numWords)
    var tokens: [UInt32] = []
    tokens.reserveCapacity(counted.chunks.reduce(0) { $0 + $1.count })
    for (w, chunk) in counted.chunks.enumerated() {
        start[w] = tokens.count
        length[w] = chunk.count
        for b in chunk { tokens.append(UInt32(b)) }
    }
    let wordCount = counted.counts

    // Pair counts, and for each pair the words it occurs in (append-only; duplicates skipped by a stamp).
    var pairCount: [UInt64: Int] = [:]
    var pairWords: [UInt64: [Int32]] = [:]
    for w in 0..<numWords where length[w] >= 2 {
        for k in start[w]..<(start[w] + length[w] - 1) {
            let key = pairKey(tokens[k], tokens[k + 1])
            pairCount[key, default: 0] += wordCount[w]
            pairWords[key, default: []].append(Int32(w))
        }
    }
    var heap = PairHeap()
    heap.items.reserveCapacity(pairCount.count * 2)
    for (key, c) in pairCount.sorted(by: { $0.key < $1.key }) { heap.push(c, key) }

    var merges: [(UInt32, UInt32)] = []
    var stamp = [Int](repeating: -1, count: numWords)
    var increased: [UInt64] = []
    while merges.count < numMerges, let top = heap.pop() {
        let live = pairCount[top.pair] ?? 0
        if live != top.count {  // stale entry: put it back with its live count
            if live > 0 { heap.push(live, top.pair) }
            continue
        }
        if live <= 0 { break }
        let a = UInt32(top.pair >> 32), b = UInt32(top.pair & 0xFFFF_FFFF)
        let m = UInt32(256 + merges.count)
        merges.append((a, b))
        increased.removeAll(keepingCapacity: true)
        let where_ = pairWords[top.pair] ?? []
        tokens.withUnsafeMutableBufferPointer { t in
            for w32 in where_ {
                let w = Int(w32)
                if stamp[w] == merges.count { continue }
                stamp[w] = merges.count
                let c = wordCount[w], s = start[w], n = length[w]
                // Merge (a, b) -> m left to right, non-overlapping, writing in place; keep counts exact:
                // each merge removes (x,a), (a,b), (b,y) and adds (x,m), (m,y).
                var read = s, write = s
                let end = s + n
                while read < end {
                    if read + 1 < end && t[read] == a && t[read + 1] == b {
                        if write > s {
                            let x = t[write - 1]
                            pairCount[pairKey(x, a), default: 0] -= c
                            let key = pairKey(x, m)
                            pairCount[key, default: 0] += c
                            increased.append(key)
                            pairWords[key, default: []].append(w32)
                        }
                        if read + 2 < end {
                            let y = t[read + 2]
                            pairCount[pairKey(b, y), default: 0] -= c
                            let key = pairKey(m, y)
                            pairCount[key, default: 0] += c
                            increased.append(key)
                            pairWords[key, default: []].append(w32)
                        }
                        pairCount[top.pair, default: 0] -= c
                        t[write] = m
                        write += 1
                        read += 2
                    } else {
                        t[write] = t[read]
                        write += 1
                        read += 1
                    }
                }
                length[w] = write - s
            }
        }
        pairWords[top.pair] = nil
        // Push the pairs whose counts grew; the ones that shrank are fixed lazily when popped.
        increased.sort()
        var previous: UInt64 = .max
        for key in increased where key != previous {
            previous = key
            if let c = pairCount[key], c > 0 { heap.push(c, key) }
        }
    }
    return merges
}
