// The calculator tool: our own parser and evaluator for arithmetic, nothing else. Grammar:
//   expr := term (('+' | '-') term)*      term := factor (('*' | '/' | '×' | '÷') factor)*
//   factor := ('-' | '+') factor | number | '(' expr ')'      number := digits with optional ',' groups and '.'
// Everything else is refused with an error that the model sees as the tool's output. Bounded: input
// length, nesting depth and magnitude; the parser reads each character once, so time is bounded too.
// (nanochat's engine uses Python's eval behind a filter; a parser is safer and just as small.)

struct Calculator {
    static let maxLength = 200
    static let maxDepth = 32
    static let maxMagnitude = 1e15

    struct Failure: Error { let message: String }

    /// The result as the tool prints it ("42", "3.5"), or "error: ..." for anything it refuses.
    static func run(_ input: String) -> String {
        do { return format(try evaluate(input)) } catch let f as Failure { return "error: " + f.message } catch {
            return "error: \(error)"
        }
    }

    static func evaluate(_ input: String) throws -> Double {
        guard input.count <= maxLength else { throw Failure(message: "expression longer than \(maxLength) characters") }
        var p = Parser(chars: Array(input.unicodeScalars))
        let v = try p.expression(depth: 0)
        p.skipSpaces()
        guard p.i == p.chars.count else { throw Failure(message: "unexpected '\(Character(p.chars[p.i]))'") }
        return v
    }

    /// Integers print without a decimal point; other values with up to 10 significant digits.
    static func format(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        var s = String(format: "%.10g", v)
        if s.contains(".") && !s.contains("e") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    struct Parser {
        let chars: [Unicode.Scalar]
        var i = 0

        mutating func skipSpaces() { while i < chars.count, chars[i] == " " { i += 1 } }

        mutating func peek() -> Unicode.Scalar? {
            skipSpaces()
            return i < chars.count ? chars[i] : nil
        }

        func checked(_ v: Double) throws -> Double {
            guard v.isFinite, abs(v) <= Calculator.maxMagnitude else { throw Failure(message: "result too large") }
            return v
        }

        mutating func expression(depth: Int) throws -> Double {
            var v = try term(depth: depth)
            while let c = peek(), c == "+" || c == "-" {
                i += 1
                let r = try term(depth: depth)
                v = try checked(c == "+" ? v + r : v - r)
            }
            return v
        }

        mutating func term(depth: Int) throws -> Double {
            var v = try factor(depth: depth)
            while let c = peek(), c == "*" || c == "/" || c == "×" || c == "÷" {
                i += 1
                let r = try factor(depth: depth)
                if c == "/" || c == "÷" {
                    guard r != 0 else { throw Failure(message: "division by zero") }
                    v = try checked(v / r)
                } else {
                    v = try checked(v * r)
                }
            }
            return v
        }

        mutating func factor(depth: Int) throws -> Double {
            guard depth < Calculator.maxDepth else { throw Failure(message: "too deeply nested") }
            guard let c = peek() else { throw Failure(message: "expression ends too early") }
            if c == "-" || c == "+" {
                i += 1
                let v = try factor(depth: depth + 1)
                return c == "-" ? -v : v
            }
            if c == "(" {
                i += 1
                let v = try expression(depth: depth + 1)
                guard peek() == ")" else { throw Failure(message: "missing ')'") }
                i += 1
                return v
            }
            return try number()
        }

        mutating func number() throws -> Double {
            skipSpaces()
            var s = "", seenDot = false, digits = 0
            while i < chars.count {
                let c = chars[i]
                if c.properties.numericType == .decimal, c.isASCII {
                    s.unicodeScalars.append(c)
                    digits += 1
                } else if c == "," && digits > 0 && !seenDot && i + 1 < chars.count && chars[i + 1].isASCII
                    && chars[i + 1].properties.numericType == .decimal
                { /* 1,000 */
                } else if c == "." && !seenDot {
                    seenDot = true
                    s += "."
                } else {
                    break
                }
                i += 1
                guard s.count <= 20 else { throw Failure(message: "number too long") }
            }
            guard digits > 0, let v = Double(s) else {
                if i < chars.count {
                    throw Failure(message: "unexpected '\(Character(chars[i]))': only numbers, + - * / and parentheses")
                }
                throw Failure(message: "expected a number")
            }
            return try checked(v)
        }
    }
}
