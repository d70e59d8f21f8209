"""Self-contained HTML reports: headings, text, tables and figures in one file.

A report is one `.html` file that opens in any browser, offline, and can be mailed or
archived on its own: the figures are embedded as base64 PNG (`data:` URLs), the style
sheet is inline, and nothing is fetched from anywhere. Every piece of text is escaped,
so class names or file names with `<`, `&` or non-ASCII letters show as they are.

    report = Report("Training run: shoes")
    report.heading("Curves")
    report.figure(plots.plot_history(history), alt="training curves")
    report.table(["class", "recall"], [["boot", "0.91"], ["sandal", "0.78"]])
    report.write("runs/shoes/report.html")

Used by `tlhelpers.train` (the report of a training run).
"""

from __future__ import annotations

import base64
import html
import io
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from tlhelpers.display import installed_versions

__all__ = ["Report", "figure_to_data_url", "library_versions"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       max-width: 980px; margin: 2em auto; padding: 0 1em; color: #1f2328;
       line-height: 1.45; }
h1 { font-size: 1.7em; border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #d0d7de;
     padding-bottom: .2em; }
p.note { color: #57606a; font-size: .92em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .92em; }
th, td { border: 1px solid #d0d7de; padding: .25em .7em; text-align: left; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; font-size: .85em;
      border-radius: 6px; }
figure { margin: .8em 0 1.2em; }
figure img { max-width: 100%; height: auto; }
figcaption { color: #57606a; font-size: .9em; }
code { background: #f6f8fa; padding: .1em .3em; border-radius: 4px; }
"""


def figure_to_data_url(fig, dpi: int = 90) -> str:
    """Renders a Matplotlib figure as a PNG `data:` URL, and closes the figure.

    Args:
        fig: a `matplotlib.figure.Figure`.
        dpi: its resolution (default 90: sharp on screen, small in the file).

    Returns:
        `"data:image/png;base64,..."`, for the `src` of an `<img>`.
    """
    import matplotlib.pyplot as plt  # deferred: the report's text needs no Matplotlib

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def library_versions() -> dict[str, str]:
    """The versions of Python and of the libraries a training run depends on.

    Returns:
        `{name: version}`: Python, TensorFlow, Keras (with its backend), NumPy,
        scikit-learn, Matplotlib, Pillow and tlhelpers; `"not installed"` where missing.
    """
    packages = {"TensorFlow": "tensorflow", "Keras": "keras", "NumPy": "numpy",
                "scikit-learn": "scikit-learn", "Matplotlib": "matplotlib", "Pillow": "pillow",
                "tlhelpers": "tlhelpers"}
    found = installed_versions(packages.values())
    versions = {"Python": platform.python_version()}
    versions.update({name: found.get(package, "not installed")
                     for name, package in packages.items()})
    try:
        import keras  # deferred: a version listing need not load Keras itself

        versions["Keras"] += f" ({keras.backend.backend()} backend)"
    except ImportError:
        pass
    return versions


class Report:
    """An HTML report, built section by section and written as one self-contained file.

    Args:
        title: the title, shown at the top and in the browser's tab.
    """

    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]

    def heading(self, text: str) -> None:
        """Starts a section with a second-level heading."""
        self._parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str, note: bool = False) -> None:
        """Adds a paragraph; `` `code` `` spans show in a fixed-width font.

        Args:
            text: the paragraph, plain text.
            note: show it smaller and grey (an aside), instead of as body text.
        """
        pieces = html.escape(text).split("`")
        body = "".join(f"<code>{piece}</code>" if i % 2 else piece
                       for i, piece in enumerate(pieces))
        self._parts.append(f'<p class="note">{body}</p>' if note else f"<p>{body}</p>")

    def preformatted(self, text: str) -> None:
        """Adds text in a fixed-width block, line breaks kept (e.g. a console table)."""
        self._parts.append(f"<pre>{html.escape(text)}</pre>")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]],
              numeric: Sequence[int] = ()) -> None:
        """Adds a table.

        Args:
            header: the column titles.
            rows: the rows, one value per column (shown with `str`).
            numeric: the indices of the columns to right-align (numbers).

        Raises:
            ValueError: if a row has another number of cells than the header.
        """
        for row in rows:
            if len(row) != len(header):
                raise ValueError(
                    f"A row has {len(row)} cells for {len(header)} columns. Received: "
                    f"`header={list(header)!r}`, row {list(row)!r}."
                )

        def cell(tag: str, i: int, value: object) -> str:
            kind = ' class="num"' if i in numeric else ""
            return f"<{tag}{kind}>{html.escape(str(value))}</{tag}>"

        head = "".join(cell("th", i, value) for i, value in enumerate(header))
        body = "".join("<tr>" + "".join(cell("td", i, value) for i, value in enumerate(row))
                       + "</tr>" for row in rows)
        self._parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def figure(self, fig, alt: str, caption: str | None = None, dpi: int = 90) -> None:
        """Adds a Matplotlib figure as an embedded PNG (the figure is closed).

        Args:
            fig: the figure.
            alt: what it shows, for screen readers and when images are off.
            caption: a line under it.
            dpi: its resolution (default 90).
        """
        url = figure_to_data_url(fig, dpi=dpi)
        caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img src="{url}" alt="{html.escape(alt)}">'
                           f"{caption_html}</figure>")

    def to_html(self) -> str:
        """The whole report as one HTML document."""
        body = "\n".join(self._parts)
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                f"<title>{html.escape(self.title)}</title>\n<style>{_STYLE}</style>\n"
                f"</head>\n<body>\n{body}\n</body>\n</html>\n")

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Writes the report (UTF-8) and returns its path."""
        path = Path(path)
        path.write_text(self.to_html(), encoding="utf-8")
        return path
