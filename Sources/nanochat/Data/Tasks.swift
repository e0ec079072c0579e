// Task families with checkable answers, generated in code (nanochat: tasks/*.py, GSM8K and SpellingBee
// in spirit): arithmetic word problems solved with the calculator tool, spelling and letter counting, and
// multiple-choice word categories. Each has a seeded train generator, a fixed test set (seed 1000+) and a
// grader. Answers end with a line "#### <answer>".
// Words, names and categories come from data/words/ (see data/SOURCES.md).

import Foundation

enum TaskKind: String, CaseIterable {
    case arithmetic, spelling, counting, choice
}

struct TaskExample {
    var kind: TaskKind
    var conversation: Conversation  // user question, then the reference answer
    var answer: String  // what the grader expects
    var choices: [String] = []  // multiple choice: the option letters
}

/// The word lists the generators draw from.
struct TaskWords {
    /// `words`: the words spelling and letter counting ask about; `names`: people in word problems.
    var words: [String], names: [String], categories: [(String, [String])]

    static func load(_ dir: String = "data/words") throws -> TaskWords {
        func lines(_ f: String) throws -> [String] {
            let text = String(decoding: try readFile(dir + "/" + f, what: "word list"), as: UTF8.self)
            return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let catData = try readFile(dir + "/categories.json", what: "category list")
        guard let cats = try? JSONSerialization.jsonObject(with: catData) as? [String: [String]], cats.count >= 4 else {
            throw UserError("\(dir)/categories.json must map at least 4 category names to word lists")
        }
        // The 200 most frequent words: a 5M-parameter model must memorise each word's letters, so each
        // is seen ~15 times per stage (600 words gave 0-37% spelling, LOG.md). As nanochat's SpellingBee,
        // test words come from the same list as training words; the questions are new.
        let w = Array(try lines("words.txt").prefix(spellingWords)), n = try lines("names.txt")
        guard w.count >= 10, n.count >= 4 else { throw UserError("\(dir): words.txt and names.txt are too short") }
        return TaskWords(words: w, names: n, categories: cats.keys.sorted().map { ($0, cats[$0]!) })
    }
}

/// How many of data/words/words.txt's most frequent words the spelling and counting tasks use.
let spellingWords = 200

/// The text after the last "####" in a response, trimmed; nil if there is none.
func finalAnswer(_ text: String) -> String? {
    guard let r = text.range(of: "####", options: .backwards) else { return nil }
    let rest = text[r.upperBound...]
    return rest.split(separator: "\n", omittingEmptySubsequences: false).first.map {
        $0.trimmingCharacters(in: .whitespaces)
    }
}

extension TaskExample {
    /// The question rendered for the model to answer: ends with <|assistant_start|>.
    func prompt(_ tok: Tokenizer) throws -> [Int] {
        try tok.renderForCompletion(Conversation(messages: [conversation.messages[0]]))
    }
}

extension TaskExample {
    /// The same question with a terse reference answer: only the final line "#### <answer>", no steps and
    /// no calculator call (`chat-sft --terse`), so "thinking" can be switched off with everything else equal.
    /// Spelling is terse already: its answer is the spelled word.
    var terse: TaskExample {
        var t = self
        t.conversation.messages[1] = Message(.assistant, parts: [MessagePart(type: .text, text: "#### \(answer)")])
        return t
    }
}

/// Grades a response (the assistant's text, tool calls and outputs included) against an example.
func grade(_ example: TaskExample, response: String) -> Bool {
    switch example.kind {
    case .arithmetic:
        guard let a = finalAnswer(response).map({ $0.replacingOccurrences(of: ",", with: "") }), let got = Double(a),
            let want = Double(example.answer)
        else { return false }
        return abs(got - want) < 1e-6
    case .spelling, .counting, .choice:
        return finalAnswer(response)?.lowercased() == example.answer.lowercased()
    }
}

/// Generates `count` examples of a family from a seed. `easy`: arithmetic draws only its easy templates
/// (`chat-rl --easy-first`, a curriculum); the other families have one grade.
func generateTask(_ kind: TaskKind, count: Int, seed: UInt64, words: TaskWords, easy: Bool = false) -> [TaskExample] {
    var rng = RNG(seed: seed &* 0x9E37_79B9 &+ UInt64(TaskKind.allCases.firstIndex(of: kind)!))
    return (0..<count).map { _ in
        switch kind {
        case .arithmetic: return arithmeticExample(&rng, words, easy: easy)
        case .spelling: return spellingExample(&rng, words)
        case .counting: return countingExample(&rng, words)
        case .choice: return choiceExample(&rng, words)
        }
    }
}

/// The fixed held-out set of a family (regenerated identically from its seed).
func testSet(_ kind: TaskKind, words: TaskWords, count: Int = 100) -> [TaskExample] {
    generateTask(kind, count: count, seed: 1000, words: words)
}

private func pick<T>(_ a: [T], _ rng: inout RNG) -> T { a[rng.int(a.count)] }

private func ask(_ q: String, _ parts: [MessagePart]) -> Conversation {
    Conversation(messages: [Message(.user, q), Message(.assistant, parts: parts)])
}

private let items = ["apples", "coins", "books", "roses", "candles", "swords", "letters", "cakes", "rings", "horses"]

/// Word problems in two grades. Easy (7 of 16 templates): one operation on the numbers in the question.
/// Hard: two to five numbers, two or three operations, numbers that appear in another order than in
/// the expression, a distracting number (an age) that must be left out, averages with decimal answers.
/// The calculator does the sums, so what the model must get right is the expression and the copy of
/// the result. SFT leaves room here for RL (lesson 09).
private func arithmeticExample(_ rng: inout RNG, _ w: TaskWords, easy: Bool) -> TaskExample {
    let a = pick(w.names, &rng), b = pick(w.names, &rng), item = pick(items, &rng)
    let x = 2 + rng.int(98), y = 2 + rng.int(30), z = 1 + rng.int(20), n = 2 + rng.int(11)
    let age = 20 + rng.int(50), day = pick(["Monday", "Tuesday", "Friday", "Sunday"], &rng)
    let (question, expr): (String, String)
    let m = 2 + rng.int(5), price = 2 + rng.int(9)
    let each = max(1, min(z, (x + n * y) / m)), spend = min(z, y * n - 1)  // answers stay positive
    switch rng.int(easy ? easyArithmeticTemplates : 16) {
    case 0:
        let ops = [("plus", "+"), ("minus", "-"), ("times", "*")]
        let (word, op) = pick(ops, &rng)
        let (p, q) = op == "-" ? (x + y, y) : (x, y)
        (question, expr) = (
            pick(["What is \(p) \(word) \(q)?", "Compute \(p) \(word) \(q).", "what's \(p) \(word) \(q)"], &rng),
            "\(p)\(op)\(q)"
        )
    case 1: (question, expr) = ("What is \(x) divided by \(n)?", "\(x)/\(n)")
    case 2:
        (question, expr) = (
            "\(a) has \(x) \(item). \(b) gives \(a) \(y) more. How many \(item) does \(a) have now?", "\(x)+\(y)"
        )
    case 3:
        (question, expr) = (
            "\(a) had \(x + y) \(item) and lost \(y) of them. How many \(item) are left?", "\(x + y)-\(y)"
        )
    case 4:
        (question, expr) = (
            "\(a) buys \(n) boxes with \(y) \(item) in each. How many \(item) is that in all?", "\(n)*\(y)"
        )
    case 5:
        (question, expr) = (
            "\(a) shares \(n * y) \(item) equally among \(n) friends. How many \(item) does each friend get?",
            "\(n * y)/\(n)"
        )
    case 6:
        (question, expr) = (
            "\(a) has \(x) \(item), buys \(y) more and gives \(z) to \(b). How many \(item) does \(a) have now?",
            "\(x)+\(y)-\(z)"
        )
    // Hard: the order of the numbers in the question is not the order of the expression, or a number
    // in the question is not part of it.
    case 7:
        (question, expr) = (
            "\(a) is \(age) years old and has \(x) \(item). On \(day) \(a) buys \(n) boxes of \(y) \(item). How "
                + "many \(item) does \(a) have now?",
            "\(x)+\(n)*\(y)"
        )
    case 8:
        (question, expr) = (
            "\(a) has \(x + n * z) \(item) and gives \(z) to each of \(n) friends. How many \(item) are left?",
            "\(x + n * z)-\(n)*\(z)"
        )
    case 9:
        (question, expr) = (
            "\(a) has \(x) \(item). \(b) has \(y) more than \(a). How many \(item) do they have together?",
            "\(x)+\(x)+\(y)"
        )
    case 10:
        (question, expr) = (
            "On \(day), \(n) friends each bring \(y) \(item) and \(a), who is \(age), brings \(z). How many \(item) "
                + "are there?",
            "\(n)*\(y)+\(z)"
        )
    case 11:
        (question, expr) = (
            "\(a) had \(x) \(item) and \(b) had \(y). They lost \(z) of them in all. How many \(item) do they have "
                + "left?",
            "\(x)+\(y)-\(z)"
        )
    case 12:
        (question, expr) = (
            "\(a) has \(x) \(item), buys \(n) boxes of \(y) and gives \(each) to each of \(m) friends. How many "
                + "\(item) does \(a) have now?",
            "\(x)+\(n)*\(y)-\(m)*\(each)"
        )
    case 13:
        (question, expr) = (
            "\(a) buys \(n) \(item) at \(price) coins each and pays with \(n * price + z) coins. How much change "
                + "does \(a) get?",
            "\(n * price + z)-\(n)*\(price)"
        )
    case 14:
        (question, expr) = (
            "\(a) counts \(x) \(item) on Monday, \(y) on Tuesday and \(z) on Wednesday. What is the average per day?",
            "(\(x)+\(y)+\(z))/3"
        )
    default:
        (question, expr) = (
            "\(a), aged \(age), earns \(y) coins a day for \(n) days and then spends \(spend). How many coins are "
                + "left?",
            "\(y)*\(n)-\(spend)"
        )
    }
    let result = Calculator.run(expr)
    let parts = [
        MessagePart(type: .text, text: "Let me calculate. "), MessagePart(type: .python, text: expr),
        MessagePart(type: .python_output, text: result), MessagePart(type: .text, text: "\n#### \(result)"),
    ]
    return TaskExample(kind: .arithmetic, conversation: ask(question, parts), answer: result)
}

/// Arithmetic's easy grade: templates 0..<7, whose expression uses every number of the question, in its
/// order (one or two operations).
let easyArithmeticTemplates = 7

/// A word spelled with dashes: "honour" -> "h-o-n-o-u-r" (the same dashes in every word, so the letters become the same
/// few tokens everywhere).
func spelledOut(_ word: String) -> String { word.map(String.init).joined(separator: "-") }

// The word is always written the same way (after a space, no quotes) so it is the same token(s) in
// every question: the model has one spelling per word to learn, not one per punctuation.
private func spellingExample(_ rng: inout RNG, _ w: TaskWords) -> TaskExample {
    let word = pick(w.words, &rng)
    let q = pick(["Spell the word \(word).", "How do you spell \(word)?", "Spell \(word) letter by letter."], &rng)
    return TaskExample(
        kind: .spelling, conversation: ask(q, [MessagePart(type: .text, text: "#### \(spelledOut(word))")]),
        answer: spelledOut(word))
}

private func countingExample(_ rng: inout RNG, _ w: TaskWords) -> TaskExample {
    let word = pick(w.words, &rng)
    // Half the time a letter of the word, half the time any letter (so 0 is a possible answer).
    let letter =
        rng.int(2) == 0
        ? word.map(String.init)[rng.int(word.count)] : String(pick(Array("abcdefghijklmnopqrstuvwxyz"), &rng))
    let n = word.filter { String($0) == letter }.count
    let q = "How many times does the letter \(letter) appear in \(word)?"
    // Spell the word as the spelling task does, then go through its letters again, each written next to
    // the letter asked about ("l l" or "w l") so the comparison is between two neighbouring tokens, with
    // a running count at each match: the model never compares at a distance or counts in its head.
    var seen = 0
    let steps = word.map { ch -> String in
        guard String(ch) == letter else { return "\(ch) \(letter)" }
        seen += 1
        return "\(ch) \(letter) (\(seen))"
    }
    let a = "\(spelledOut(word)): " + steps.joined(separator: ", ") + ".\n#### \(n)"
    return TaskExample(kind: .counting, conversation: ask(q, [MessagePart(type: .text, text: a)]), answer: "\(n)")
}

let choiceLetters = ["A", "B", "C", "D"]

private func choiceExample(_ rng: inout RNG, _ w: TaskWords) -> TaskExample {
    let c = rng.int(w.categories.count)
    let (category, members) = w.categories[c]
    let right = pick(members, &rng)
    var options = [right]
    while options.count < 4 {
        let other = w.categories[rng.int(w.categories.count)]
        if other.0 == category { continue }
        let word = pick(other.1, &rng)
        if !options.contains(word) { options.append(word) }
    }
    for i in stride(from: 3, to: 0, by: -1) { options.swapAt(i, rng.int(i + 1)) }
    let letter = choiceLetters[options.firstIndex(of: right)!]
    let article = "aeiou".contains(category.first!) ? "an" : "a"
    let q =
        "Which of these is \(article) \(category)?\n"
        + zip(choiceLetters, options).map { "\($0). \($1)" }.joined(separator: "\n")
    // Go through the options in order, naming each one's category next to the category asked for, so
    // that "yes" or "no" compares two neighbouring phrases; stop at the first "yes": the answer is then
    // the last letter written (a copy of a recent token). LOG.md has the formats that did not work.
    let categoryOf = { (word: String) in w.categories.first { $0.1.contains(word) }!.0 }
    let upTo = options.firstIndex(of: right)! + 1
    let a =
        zip(choiceLetters, options).prefix(upTo).map {
            "\($0). \($1): \(categoryOf($1)) vs \(category), \(categoryOf($1) == category ? "yes" : "no")."
        }
        .joined(separator: " ") + "\n#### \(letter)"
    return TaskExample(
        kind: .choice, conversation: ask(q, [MessagePart(type: .text, text: a)]), answer: letter, choices: choiceLetters
    )
}
