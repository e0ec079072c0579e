// Stopping on a signal: training stages finish the current step, save and stop, on Ctrl-C (SIGINT),
// `kill`/`timeout`/a container stop (SIGTERM) or a closed terminal (SIGHUP) alike; the chat REPL stops
// the answer being written on Ctrl-C (and keeps the default of the others: they end it). The handler
// sets one flag that the loops read.

import Foundation

/// The number of the signal that asked to stop (0: none). Set by the handler, read after every step.
var stopRequested: sig_atomic_t = 0

func installStopHandler(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) {
    for s in signals {
        signal(s) { sig in
            // A second signal before the first was handled (a long evaluation, say): stop at once.
            if stopRequested != 0 { _exit(128 + sig) }
            stopRequested = sig
        }
    }
}

/// The conventional exit status of a process stopped by signal `s`: 128 + s (130 for Ctrl-C, 143 for SIGTERM).
func exitStatus(forSignal s: Int32) -> Int32 { 128 + (s == 0 ? SIGINT : s) }
