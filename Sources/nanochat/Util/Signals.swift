// Ctrl-C: training stages finish the current step, save and stop; the chat REPL stops the answer being
// written. Both read one flag that the signal handler sets.

import Foundation

/// Set by the SIGINT handler; training loops check it after every step, the chat after every token.
var stopRequested: sig_atomic_t = 0

func installStopHandler() {
    signal(SIGINT) { _ in stopRequested = 1 }
}
