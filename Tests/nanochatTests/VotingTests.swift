// Majority voting: which answer a response votes for (as the grader reads it), the vote with its
// documented tie-break, abstentions, and grading the winner.

import XCTest
@testable import nanochat

final class VotingTests: XCTestCase {
    func testVotingKeysReadAnswersAsTheGraderDoes() {
        XCTAssertEqual(votingKey(.arithmetic, "Let me calculate. 10*100\n#### 1,000"), "1000")
        XCTAssertEqual(votingKey(.arithmetic, "#### 1000.0"), "1000")
        XCTAssertEqual(votingKey(.arithmetic, "#### 2.5"), "2.5")
        XCTAssertEqual(votingKey(.arithmetic, "#### -3"), "-3")
        XCTAssertNil(votingKey(.arithmetic, "I think it is 12."), "no final answer: abstains")
        XCTAssertNil(votingKey(.arithmetic, "#### twelve"), "not a number: abstains")
        XCTAssertNil(votingKey(.arithmetic, "#### "))
        XCTAssertEqual(votingKey(.choice, "A. dog: animal vs fruit, no.\n#### B"), "b")
        XCTAssertEqual(votingKey(.spelling, "#### C-a-t"), "c-a-t")
        XCTAssertEqual(votingKey(.counting, "#### 2\nextra"), "2", "the line after #### only")
    }

    func testMajorityVoteAndItsTieBreak() {
        XCTAssertEqual(majorityVote(["5", "7", "5", nil])?.answer, "5")
        XCTAssertEqual(majorityVote(["5", "7", "5", nil])?.votes, 2)
        // 7 and 5 tie at two votes each: the one sampled first wins.
        XCTAssertEqual(majorityVote(["7", "5", "5", "7"])?.answer, "7")
        XCTAssertEqual(majorityVote([nil, "5", "7", "7", "5"])?.answer, "5")
        // Abstentions do not vote: one answer among abstentions wins with one vote.
        XCTAssertEqual(majorityVote([nil, nil, "9"])?.votes, 1)
        XCTAssertNil(majorityVote([nil, nil]))
        XCTAssertNil(majorityVote([]))
    }

    func testMajorityIsGradedLikeAnAnswer() throws {
        let words = try TaskWords.load(Fixtures.repoRoot.appendingPathComponent("data/words").path)
        let ex = generateTask(.arithmetic, count: 1, seed: 4, words: words)[0]
        let right = "#### " + ex.answer, wrong = "#### " + String((Double(ex.answer) ?? 0) + 1)
        XCTAssertTrue(majorityIsRight(ex, [wrong, right, right]))
        XCTAssertFalse(majorityIsRight(ex, [wrong, right, wrong]), "the oracle (pass@3) is right, the vote is not")
        XCTAssertTrue(majorityIsRight(ex, ["no answer", "still none", right]), "the only vote wins")
        XCTAssertFalse(majorityIsRight(ex, ["no answer", "none"]), "no votes: wrong")
        let choice = generateTask(.choice, count: 1, seed: 4, words: words)[0]
        XCTAssertTrue(majorityIsRight(choice, ["#### " + choice.answer.lowercased(), "#### " + choice.answer]))
    }
}
