// The clock every timing in the project reads: monotonic seconds.

import Foundation

/// Seconds since an arbitrary start, for timing.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
