// A line plot written as SVG text by hand: title, axis labels, "nice" ticks and grid lines, a legend, and
// series drawn as polylines with optional dashes and point markers. Enough for the report's loss and
// reward curves; no dependencies. Non-finite points are dropped; an empty plot still draws its axes.

import Foundation

struct SVGPlot {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var color = "#1f77b4"
        var width = 1.5
        var dash: String?  // stroke-dasharray, e.g. "5,3"
        var markers = false  // a dot at every point
        var opacity = 1.0
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series] = []
    var width = 640.0, height = 360.0

    // Plot area inside the margins: room for the title above, tick labels and axis labels left and below.
    private var left: Double { 64 }
    private var right: Double { width - 16 }
    private var top: Double { 36 }
    private var bottom: Double { height - 48 }

    func render() -> String {
        let drawn = series.map { s in
            Series(
                name: s.name, points: s.points.filter { $0.x.isFinite && $0.y.isFinite },
                color: s.color, width: s.width, dash: s.dash, markers: s.markers, opacity: s.opacity)
        }
        let all = drawn.flatMap(\.points)
        let xt = niceTicks(all.map(\.x).min() ?? 0, all.map(\.x).max() ?? 1)
        let yt = niceTicks(all.map(\.y).min() ?? 0, all.map(\.y).max() ?? 1)
        let (x0, x1, y0, y1) = (xt.first!, xt.last!, yt.first!, yt.last!)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (right - left) }
        func py(_ y: Double) -> Double { bottom - (y - y0) / (y1 - y0) * (bottom - top) }

        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" \
            viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="22" text-anchor="middle" font-size="15" \
            font-weight="bold">\(xmlEscape(title))</text>

            """
        // Grid lines and tick labels.
        for t in xt {
            s +=
                "<line x1=\"\(f(px(t)))\" y1=\"\(f(top))\" x2=\"\(f(px(t)))\" y2=\"\(f(bottom))\" "
                + "stroke=\"#e4e4e4\"/>\n"
            s +=
                "<text x=\"\(f(px(t)))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\" "
                + "fill=\"#444\">\(tickLabel(t, xt))</text>\n"
        }
        for t in yt {
            s +=
                "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(right))\" y2=\"\(f(py(t)))\" "
                + "stroke=\"#e4e4e4\"/>\n"
            s +=
                "<text x=\"\(f(left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\" "
                + "fill=\"#444\">\(tickLabel(t, yt))</text>\n"
        }
        s +=
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\" "
            + "fill=\"none\" stroke=\"#888\"/>\n"
        s +=
            "<text x=\"\(f((left + right) / 2))\" y=\"\(f(height - 10))\" "
            + "text-anchor=\"middle\">\(xmlEscape(xLabel))</text>\n"
        s +=
            "<text transform=\"translate(16,\(f((top + bottom) / 2))) rotate(-90)\" "
            + "text-anchor=\"middle\">\(xmlEscape(yLabel))</text>\n"
        if all.isEmpty {
            s +=
                "<text x=\"\(f((left + right) / 2))\" y=\"\(f((top + bottom) / 2))\" text-anchor=\"middle\" "
                + "fill=\"#888\">no data</text>\n"
        }
        // Series.
        for d in drawn where !d.points.isEmpty {
            let style =
                "stroke=\"\(d.color)\" stroke-width=\"\(f(d.width))\" stroke-opacity=\"\(f(d.opacity))\""
                + (d.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")
            let pts = d.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            s +=
                "<polyline class=\"series\" data-name=\"\(xmlEscape(d.name))\" fill=\"none\" "
                + "stroke-linejoin=\"round\" \(style) points=\"\(pts)\"/>\n"
            if d.markers || d.points.count == 1 {
                for p in d.points {
                    s +=
                        "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"\(f(max(2.5, d.width + 1)))\" "
                        + "fill=\"\(d.color)\"/>\n"
                }
            }
        }
        // Legend, in the corner of the plot area where it hides the fewest points of the lines.
        let named = drawn.filter { !$0.points.isEmpty && !$0.name.isEmpty }
        if !named.isEmpty {
            let w = 36 + 7 * Double(named.map(\.name.count).max()!), h = 8 + 18 * Double(named.count)
            var samples: [(Double, Double)] = []
            for d in drawn {
                let p = d.points.map { (px($0.x), py($0.y)) }
                samples += p
                for (a, b) in zip(p, p.dropFirst()) {
                    samples += (1..<8).map { k in
                        let t = Double(k) / 8
                        return (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
                    }
                }
            }
            let corners = [
                (right - w - 8, top + 8), (left + 8, top + 8), (right - w - 8, bottom - h - 8),
                (left + 8, bottom - h - 8),
            ]
            let (lx, ly) = corners.min { a, b in
                func hidden(_ c: (Double, Double)) -> Int {
                    samples.filter { $0.0 >= c.0 && $0.0 <= c.0 + w && $0.1 >= c.1 && $0.1 <= c.1 + h }.count
                }
                return hidden(a) < hidden(b)
            }!
            s +=
                "<rect x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"white\" "
                + "fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n"
            for (i, d) in named.enumerated() {
                let y = ly + 13 + 18 * Double(i)
                s +=
                    "<line x1=\"\(f(lx + 6))\" y1=\"\(f(y))\" x2=\"\(f(lx + 28))\" y2=\"\(f(y))\" "
                    + "stroke=\"\(d.color)\" stroke-width=\"\(f(max(d.width, 1.5)))\""
                    + (d.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>\n"
                s += "<text x=\"\(f(lx + 33))\" y=\"\(f(y + 4))\">\(xmlEscape(d.name))</text>\n"
            }
        }
        return s + "</svg>\n"
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}

/// Tick values covering [lo, hi]: equally spaced by a step of 1, 2 or 5 × 10^k, the first ≤ lo and the
/// last ≥ hi, at most about `target` + 1 of them (Heckbert, "Nice numbers for graph labels", 1990).
/// An empty or zero-width range is widened so that there are always at least two ticks.
func niceTicks(_ lo: Double, _ hi: Double, target: Int = 6) -> [Double] {
    var (lo, hi) = lo.isFinite && hi.isFinite ? (min(lo, hi), max(lo, hi)) : (0, 1)
    if hi - lo < 1e-12 * max(1, abs(lo)) {
        let pad = lo == 0 ? 1 : abs(lo) * 0.1
        lo -= pad
        hi += pad
    }
    let step = niceNumber((hi - lo) / Double(max(1, target - 1)))
    let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
    return (0...Int(last - first)).map { (first + Double($0)) * step }
}

/// The 1, 2, 5 or 10 × 10^k closest to x (x > 0).
func niceNumber(_ x: Double) -> Double {
    let p = pow(10, (log10(x)).rounded(.down)), m = x / p
    return p * (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10)
}

/// A tick's label with as many decimals as the step between ticks needs ("0.25", "1000", "2.5e-05").
func tickLabel(_ v: Double, _ ticks: [Double]) -> String {
    let step = ticks.count > 1 ? abs(ticks[1] - ticks[0]) : 1
    if abs(v) < step * 1e-9 { return "0" }
    let decimals =
        (0...7).first { d in
            let v = step * pow(10, Double(d))
            return abs(v - v.rounded()) < 1e-6 * v
        } ?? 8
    if decimals > 6 || abs(v) >= 1e7 { return String(format: "%.2g", v) }
    return String(format: "%.\(decimals)f", v)
}

/// Text safe inside an XML element or a quoted attribute.
func xmlEscape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(c)
        }
    }
    return out
}
