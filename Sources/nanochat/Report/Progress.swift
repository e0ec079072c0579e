// The live progress line of long stages: one line rewritten in place on a terminal
// ("step 120/450 | loss 3.214 | lr 1.00 | 2010 tok/s | 93.1 GFLOP/s | 4m02s, 11m06s left"), or a plain
// line every few seconds when the output is a pipe or a file.

import Foundation

struct ProgressLine {
    let isTTY = isatty(STDOUT_FILENO) != 0
    private var lastPrint = 0.0

    /// Shows `text`; on a pipe, at most every `interval` seconds unless `force`.
    mutating func show(_ text: String, force: Bool = false, interval: Double = 10) {
        if isTTY {
            fputs("\r\u{1B}[K" + text, stdout)
            fflush(stdout)
        } else if force || now() - lastPrint >= interval {
            print(text)
            fflush(stdout)
            lastPrint = now()
        }
    }

    /// Ends the live line so that the next print starts on a fresh line.
    func finish() { if isTTY { print("") } }

    /// Prints a full line above the live one.
    func log(_ text: String) {
        if isTTY { fputs("\r\u{1B}[K", stdout) }
        print(text)
        fflush(stdout)
    }
}

/// "1h02m", "4m05s", "12s".
func formatDuration(_ s: Double) -> String {
    guard s.isFinite, s >= 0 else { return "?" }
    let t = Int(s.rounded())
    if t >= 3600 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
    if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
    return "\(t)s"
}
