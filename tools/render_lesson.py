#!/usr/bin/env python3
"""Renders a lesson (Markdown with its pictures) to a PNG, to look at it as a reader would.

Converts Lessons/NAME.md to HTML with Python's `markdown` package (installed on demand, tools/pipdeps.py),
then screenshots the page with wkhtmltoimage (Debian's wkhtmltopdf package; installed with apt-get
when this runs as root and it is missing). The SVG figures are loaded from Lessons/figures/.

Usage: python3 tools/render_lesson.py 05-post-training [--out /tmp/05.png] [--height 1500]
"""

import argparse
import os
import shutil
import subprocess
import sys

from pipdeps import need  # tools/pipdeps.py

STYLE = ("body{font-family:Helvetica,Arial,sans-serif;max-width:900px;margin:20px auto;font-size:15px}"
         "img{max-width:100%} table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:3px 6px;"
         "font-size:13px} pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}")


def ensure_wkhtmltoimage():
    if shutil.which("wkhtmltoimage"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.check_call(["apt-get", "install", "-y", "-qq", "wkhtmltopdf"])
        return
    sys.exit("render_lesson: needs wkhtmltoimage: sudo apt-get install wkhtmltopdf")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lesson", help="a lesson's file name without .md, e.g. 05-post-training")
    ap.add_argument("--out", help="the PNG to write (default /tmp/LESSON.png)")
    ap.add_argument("--height", type=int, default=1500, help="pixels from the top (0: the whole page)")
    args = ap.parse_args()
    lessons = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Lessons")
    src = os.path.join(lessons, args.lesson + ".md")
    if not os.path.exists(src):
        sys.exit(f"render_lesson: no lesson {src}")
    markdown = need("markdown")
    ensure_wkhtmltoimage()
    with open(src, encoding="utf-8") as f:
        body = markdown.markdown(f.read(), extensions=["tables", "fenced_code"])
    html = os.path.join(lessons, f".render-{args.lesson}.html")  # beside the lesson, so figures/ resolves
    out = args.out or f"/tmp/{args.lesson}.png"
    try:
        with open(html, "w", encoding="utf-8") as f:
            f.write(f'<html><head><meta charset="utf-8"><style>{STYLE}</style></head><body>{body}</body></html>')
        cmd = ["wkhtmltoimage", "--quiet", "--enable-local-file-access", "--width", "1000", "--quality", "50"]
        if args.height > 0:
            cmd += ["--height", str(args.height)]
        subprocess.run(cmd + [html, out], check=True, stderr=subprocess.DEVNULL)
    finally:
        os.remove(html)
    print("wrote", out)


if __name__ == "__main__":
    main()
