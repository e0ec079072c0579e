// The safetensors format (https://github.com/huggingface/safetensors): 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then raw
// little-endian tensor data. We write F32 only, with sorted keys and a header padded to 8 bytes, so that
// saving the same tensors twice gives the same bytes. We read F32 (and I32/I64 as Float, for fixtures).

import Foundation

struct SafeTensor {
    var shape: [Int]
    var data: [Float]
}

enum Safetensors {
    /// Serialises tensors (written in name order) and string metadata.
    static func encode(_ tensors: [(String, [Int], UnsafePointer<Float>)], metadata: [String: String]) -> Data {
        let sorted = tensors.sorted { $0.0 < $1.0 }
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(
                separator: ",")
            header += "},"
        }
        var offset = 0
        var entries: [String] = []
        for (name, shape, _) in sorted {
            let bytes = shape.reduce(1, *) * 4
            let dims = shape.map(String.init).joined(separator: ",")
            let range = "[\(offset),\(offset + bytes)]"
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(dims)],\"data_offsets\":\(range)}")
            offset += bytes
        }
        header += entries.joined(separator: ",") + "}"
        while (header.utf8.count + 8) % 8 != 0 { header += " " }
        var out = Data(capacity: 8 + header.utf8.count + offset)
        var len = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        for (_, shape, ptr) in sorted {
            let n = shape.reduce(1, *)
            // Float is little-endian on every platform Swift runs on today.
            out.append(UnsafeBufferPointer(start: ptr, count: n))
        }
        return out
    }

    /// Parses a safetensors file; errors say what is wrong with it.
    static func read(_ path: String) throws -> (tensors: [String: SafeTensor], metadata: [String: String]) {
        let data = try readFile(path, what: "safetensors file")
        let bad = { (why: String) in UserError("\(path) is not a valid safetensors file: \(why)") }
        guard data.count >= 8 else { throw bad("shorter than its 8-byte header length") }
        let rawLen = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard rawLen > 0, rawLen <= UInt64(data.count - 8) else {
            throw bad("header length \(rawLen) exceeds the file of \(data.count) bytes (truncated?)")
        }
        let headerLen = Int(rawLen)
        guard
            let json = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLen))) as? [String: Any]
        else {
            throw bad("the header is not a JSON object")
        }
        let body = data.subdata(in: (8 + headerLen)..<data.count)
        var metadata: [String: String] = [:]
        var tensors: [String: SafeTensor] = [:]
        for (name, value) in json {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw bad("tensor \(name) has a malformed entry")
            }
            let width = ["F32": 4, "I32": 4, "I64": 8][dtype]
            guard let width else {
                throw bad("tensor \(name) has dtype \(dtype); only F32 (and I32/I64) are supported")
            }
            // The byte count of the shape, checked for negative sizes and overflow before anything is allocated.
            var bytes: Int? = shape.allSatisfy({ $0 >= 0 }) ? width : nil
            for d in shape {
                guard let b = bytes else { break }
                let (m, overflow) = b.multipliedReportingOverflow(by: d)
                bytes = overflow || m > body.count ? nil : m
            }
            guard let bytes, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= body.count,
                offsets[1] - offsets[0] == bytes
            else {
                throw bad(
                    "tensor \(name)'s data_offsets \(offsets) do not fit its shape \(shape) or the file (truncated?)")
            }
            let count = bytes / width
            var values = [Float](repeating: 0, count: count)
            body.withUnsafeBytes { raw in
                let base = offsets[0]
                for i in 0..<count {
                    switch dtype {
                    case "F32":
                        values[i] = Float(
                            bitPattern: UInt32(
                                littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self)))
                    case "I32":
                        values[i] = Float(
                            Int32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * i, as: Int32.self)))
                    default:
                        values[i] = Float(
                            Int64(littleEndian: raw.loadUnaligned(fromByteOffset: base + 8 * i, as: Int64.self)))
                    }
                }
            }
            tensors[name] = SafeTensor(shape: shape, data: values)
        }
        return (tensors, metadata)
    }

    private static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
