"""Writing a plot's SVG lines to a file, shared by the tools/ plotting scripts."""


def write_svg(path, lines):
    """Closes the SVG document of `lines` (its elements, opened by an <svg> line), writes it, says so."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines + ["</svg>"]) + "\n")
    print(f"wrote {path}")
