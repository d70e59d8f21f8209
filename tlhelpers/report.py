"""Self-contained HTML reports: headings, text, tables and figures in one file.

A report is one `.html` file that opens in any browser, offline, and can be mailed or
archived on its own: the figures are embedded as SVG whose text the browser itself draws
(so a class name in Chinese, Japanese or Korean shows as letters wherever the reader has
a font for them, not as the boxes of a plotting font without them), the style sheet is
inline, and nothing is fetched from anywhere. Every piece of text is escaped, so class
names or file names with `<`, `&`, quotes or non-Latin letters show as they are.

    report = Report("Training run: shoes")
    report.heading("Curves")
    report.figure(plots.plot_history(history), alt="training curves")
    report.table(["class", "recall"], [["boot", "0.91"], ["sandal", "0.78"]])
    report.write("runs/shoes/report.html")

Used by `tlhelpers.train` (the report of a training run).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import os
import platform
import shlex
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tlhelpers.display import installed_versions
from tlhelpers.rundir import write_atomically

__all__ = ["Report", "RunFindings", "figure_to_data_url", "figure_to_svg", "head_text",
           "library_versions", "model_card", "run_report"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       max-width: 980px; margin: 2em auto; padding: 0 1em; color: #1f2328;
       line-height: 1.45; }
h1 { font-size: 1.7em; border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #d0d7de;
     padding-bottom: .2em; }
p.note { color: #57606a; font-size: .92em; }
div.warning { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px;
              padding: .2em .9em; margin: .8em 0; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .92em; }
th, td { border: 1px solid #d0d7de; padding: .25em .7em; text-align: left; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; font-size: .85em;
      border-radius: 6px; }
figure { margin: .8em 0 1.2em; }
figure img, figure svg { max-width: 100%; height: auto; }
figcaption { color: #57606a; font-size: .9em; }
code { background: #f6f8fa; padding: .1em .3em; border-radius: 4px; }
"""


def head_text(recipe: dict, num_classes: int) -> str:
    """The head of a run's recipe (`Recipe.to_json()`), in words:
    `Flatten -> Dense(256, relu) -> Dropout(0.5) -> Dense(10, softmax)`."""
    layers = ["Flatten"]
    if recipe["hidden_units"]:
        layers.append(f"Dense({recipe['hidden_units']}, relu)")
    if recipe["dropout"]:
        layers.append(f"Dropout({recipe['dropout']:g})")
    layers.append(f"Dense({num_classes}, softmax)")
    return " -> ".join(layers)


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


def figure_to_svg(fig) -> str:
    """Renders a Matplotlib figure as an inline SVG element whose text is text, and closes
    the figure.

    With `svg.fonttype` set to `"none"`, Matplotlib writes each label as an SVG `<text>`
    element instead of drawing its glyphs as paths: the browser lays the text out with
    its own fonts, so letters that Matplotlib's font lacks (Chinese, Japanese, Korean...)
    still show. (Matplotlib's warnings about those missing glyphs, which concern only its
    own measuring of the text, are not repeated.)

    Args:
        fig: a `matplotlib.figure.Figure`.

    Returns:
        The `<svg ...>...</svg>` element, without the XML header.
    """
    import matplotlib.pyplot as plt  # deferred: the report's text needs no Matplotlib

    buffer = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "tlhelpers"}), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


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

    def figure(self, fig, alt: str, caption: str | None = None) -> None:
        """Adds a Matplotlib figure as inline SVG, its text drawn by the browser (see
        `figure_to_svg`); the figure is closed.

        Args:
            fig: the figure.
            alt: what it shows, for screen readers (the figure's accessible name).
            caption: a line under it.
        """
        svg = figure_to_svg(fig)
        caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><div role="img" aria-label="{html.escape(alt)}">'
                           f"{svg}</div>{caption_html}</figure>")

    def warning(self, text: str) -> None:
        """Adds a paragraph in a highlighted box: what a reader must not miss."""
        self._parts.append(f'<div class="warning"><p>{html.escape(text)}</p></div>')

    def to_html(self) -> str:
        """The whole report as one HTML document."""
        body = "\n".join(self._parts)
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                f"<title>{html.escape(self.title)}</title>\n<style>{_STYLE}</style>\n"
                f"</head>\n<body>\n{body}\n</body>\n</html>\n")

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Writes the report (UTF-8), atomically, and returns its path."""
        return write_atomically(path, self.to_html().encode("utf-8"))


# --- The report of a run of the train command -------------------------------------------


@dataclasses.dataclass
class RunFindings:
    """Everything the report of a training run shows, computed by the train command.

    Args:
        title: what the run trained on (the image folder's name).
        recipe: the recipe's settings (`Recipe.to_json()`).
        base_title: how people call the base ("MobileNet (alpha=0.25)").
        class_names: label `i` is `class_names[i]`.
        folder_report: the checked folder's report (counts per class and split, formats).
        split_note: how the splits were made, or "" when the folder had all three.
        stages: the stages' results (`recipe.StageResult`).
        resumed: the stages finished by an earlier run and loaded here.
        summary: the test results (`evaluation.Summary`).
        confused: the most-confused pairs (`evaluation.confused_pairs`).
        test_images: the test images; `y_true`, `probs`: their labels and probabilities.
        top_losses: indices of the test images with the highest loss.
        gradcam_indices: indices of the mistakes explained by `gradcam_maps` (heat maps),
            or empty where Grad-CAM could not run.
        feature_grid: `(rows, columns)` of the base's last feature map: the heat maps'
            own resolution, before they are resized to the image.
        contradicted_images, contradicted_labels, contradicted_probs: training images
            whose label the model contradicts with high confidence.
        reliability: the test split's `calibration.Reliability`.
        threshold: the rejection threshold chosen on the validation split.
        reject_known: the share of validation images it rejects, measured (chosen
            to be at most `train.REJECT_KNOWN`; less when several share the cut).
        rejected_test: the share of test images it rejects.
        learning_curve: `{training images: experiments.Summary}` of a linear head on
            cached features.
        versions: library versions; `machine`: the machine.
        files: `(file name, what it holds)` of the run's folder.
        run_dir: the run's folder (for the commands shown).
    """

    title: str
    recipe: dict
    base_title: str
    class_names: list[str]
    folder_report: str
    split_note: str
    stages: list
    resumed: list[int]
    summary: object
    confused: list
    test_images: object
    y_true: object
    probs: object
    top_losses: object
    gradcam_indices: object
    gradcam_maps: object
    feature_grid: tuple
    contradicted_images: object
    contradicted_labels: object
    contradicted_probs: object
    reliability: object
    threshold: float
    reject_known: float
    rejected_test: float
    learning_curve: dict
    versions: dict
    machine: dict
    files: list
    run_dir: str


def _learning_curve_sentence(curve: dict) -> str:
    sizes = sorted(curve)
    first, last = curve[sizes[0]], curve[sizes[-1]]
    half = curve[sizes[-2]] if len(sizes) > 1 else first
    rise = last.mean - half.mean
    if rise > max(0.01, half.high - half.low, last.high - last.low):
        return (f"Still rising at the full training split (+{rise:.3f} from "
                f"{sizes[-2]} to {sizes[-1]} images, more than the spread over seeds): more "
                "images of the same kind would likely raise the accuracy further.")
    return (f"Nearly flat near the full training split ({rise:+.3f} from {sizes[-2]} to "
            f"{sizes[-1]} images, within the spread over seeds): more images of the same "
            "kind would likely help little with this frozen base; fine-tuning, another base "
            "or other images may.")


def run_report(f: RunFindings) -> Report:
    """The report of a training run: what the accuracy means, how training went, and
    where the model fails.

    Its figures are SVG whose text the browser draws, so Matplotlib's warnings that its
    own font lacks some letters (of class names in Chinese, say) concern nothing shown,
    and are not repeated.

    Args:
        f: the run's `RunFindings`.

    Returns:
        A `Report`, to write (`RunFolder.write_text(REPORT_FILE, report.to_html())`).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        return _run_report(f)


def _run_report(f: RunFindings) -> Report:
    from tlhelpers import plots  # deferred: Matplotlib only when a report is drawn

    names, summary, recipe = f.class_names, f.summary, f.recipe
    k = len(names)
    report = Report(f"Training report: {f.title}")
    report.text(f"Test accuracy {summary.accuracy:.3f} on {len(f.y_true)} images; balanced "
                f"accuracy (the mean recall over classes) {summary.balanced_accuracy:.3f}. "
                f"Always predicting the largest class, '{summary.majority_class}', would "
                f"score {summary.majority_baseline:.3f}; guessing, {summary.chance:.3f}.")
    for warning in summary.warnings():
        report.warning(warning)
    report.text(f"Base: {f.base_title} with "
                + ("its ImageNet weights" if recipe["weights"] == "imagenet"
                   else "random weights (no transfer)")
                + f"; images resized to {recipe['image_size'][0]} x {recipe['image_size'][1]}.")

    report.heading("The image folder")
    report.preformatted(f.folder_report)
    if f.split_note:
        report.text(f.split_note)

    report.heading("Training")
    augment = {"none": "none (the default: chapter 3 measured that the article's "
                       "augmentation lowered validation accuracy on every seed, MobileNet "
                       "alpha=0.25 on Fashion-MNIST at 96 x 96)",
               "light": "light: shifts, zooms and rotations of up to 10 %, 10 % and 18°",
               "light+flip": "light, and a horizontal flip half of the time",
               "article": "the article's (rotation 40°, shifts 20 %, zoom 20 %, flip)"}
    report.text(f"Head: {head_text(recipe, len(f.class_names))}. "
                f"Augmentation: {augment[recipe['augment']]}. Class weights: "
                + ("balanced (each class weighs as much in the loss)"
                   if recipe["class_weight"] == "balanced" else "none") + ".")
    rows = []
    for stage in f.stages:
        budget = recipe["max_epochs"] if stage.stage == 1 else recipe["fine_tune_epochs"]
        # stage 1: the kept epoch's score (early epochs could not be kept); stage 2: its best
        best = (stage.kept_score(recipe["monitor"]) if stage.stage == 1
                else stage.best(recipe["monitor"]))
        rows.append([stage.stage, stage.what, f"{stage.learning_rate:g}",
                     f"{stage.epochs_run} of {budget}", stage.best_epoch,
                     f"{best:.4f}",
                     f"{stage.seconds:.0f} s", "yes" if stage.kept else "no"])
    score = recipe["monitor"].replace("val_", "validation ")
    report.table(["stage", "what trains", "learning rate (Adam)", "epochs run (budget)",
                  "best epoch", f"best {score}", "time", "kept"], rows,
                 numeric=[0, 2, 4, 5, 6])
    report.text(f"Each stage stops once the {score} has not improved for "
                f"{recipe['patience']} epochs, and keeps the weights of its best epoch. "
                f"Stage 2 is kept only if it betters the {score} of stage 1's kept epoch.",
                note=True)
    for stage in f.stages:
        for note in stage.notes:
            (report.preformatted if "\n" in note else report.text)(note)
    if f.resumed:
        report.text("Stage(s) " + ", ".join(map(str, f.resumed)) + " finished in an earlier "
                    "run of the same settings and were loaded, not trained again.", note=True)
    history = {key: [v for stage in f.stages for v in stage.history[key]]
               for key in f.stages[0].history}
    starts = [f.stages[0].epochs_run] if len(f.stages) > 1 else []
    report.figure(plots.plot_history(history, stage_starts=starts),
                  alt="Loss and accuracy per epoch on the training and validation images.",
                  caption="Loss and accuracy per epoch; the dotted line marks where stage 2 "
                          "starts.")

    report.heading("The test split")
    report.table(["class", "precision", "recall", "test images"],
                 [[name, f"{v['precision']:.3f}", f"{v['recall']:.3f}", v["support"]]
                  for name, v in summary.per_class.items()], numeric=[1, 2, 3])
    report.text("Precision: of the images predicted as a class, the share that are that "
                "class. Recall: of the images of a class, the share found.", note=True)
    y_true, probs = np.asarray(f.y_true), np.asarray(f.probs)
    y_pred = probs.argmax(axis=1)
    report.figure(plots.plot_confusion_matrix(y_true, y_pred, names),
                  alt=f"Confusion matrix of the {len(y_true)} test images, {k} classes.",
                  caption="Each row a true class, each column a predicted one; everything "
                          "off the diagonal is a mistake.")
    if f.confused:
        report.text("The most frequent mistakes:")
        report.table(["true class", "taken for", "images", "share of the true class"],
                     [[a, b, n, f"{share:.2f}"] for a, b, n, share in f.confused],
                     numeric=[2, 3])
    else:
        report.text("No test image was misclassified.")

    report.heading("Where the model fails")
    losses = np.asarray(f.top_losses)
    if len(losses):
        report.figure(plots.plot_image_grid(np.asarray(f.test_images)[losses], names,
                                            y_true[losses], y_pred[losses],
                                            max_images=len(losses)),
                      alt="The test images with the highest loss, each titled with the "
                          "predicted class and the true one.",
                      caption="The test images the model was most wrong about (highest "
                              "cross-entropy: the least probability for the true class).")
    if len(f.gradcam_indices):
        chosen = np.asarray(f.gradcam_indices)
        titles = [f"{names[y_pred[i]]} ({names[y_true[i]]})" for i in chosen]
        report.figure(plots.plot_gradcam(np.asarray(f.test_images)[chosen], f.gradcam_maps,
                                         titles),
                      alt="Mistakes of the test split with Grad-CAM heat maps over them: "
                          "bright where the model found evidence for the class it gave.",
                      caption="Grad-CAM of mistakes: where the model looked for the class it "
                              "gave (title: predicted, true in brackets). A heat map has the "
                              "resolution of the base's last feature map, "
                              f"{f.feature_grid[0]} x {f.feature_grid[1]} positions here, "
                              "stretched over the image.")
    if len(f.contradicted_labels):
        labels = np.asarray(f.contradicted_labels)
        predicted = np.asarray(f.contradicted_probs).argmax(axis=1)
        report.figure(plots.plot_image_grid(np.asarray(f.contradicted_images), names, labels,
                                            predicted, max_images=len(labels)),
                      alt="Training images whose label the model contradicts with "
                          "confidence, each titled with the model's class and the label.",
                      caption="Labels to check: training images the trained model gives "
                              "another class with probability 0.9 or more.")
    else:
        report.text("No training image is contradicted by the model with a probability of "
                    "0.9 or more.")

    report.heading("Can its probabilities be trusted?")
    rel = f.reliability
    report.figure(plots.plot_reliability(rel),
                  alt="Reliability diagram: accuracy against confidence bin by bin, beside "
                      "the diagonal of a calibrated model.",
                  caption="Reliability diagram of the test split.")
    verdict = ("overconfident: its mean confidence exceeds its accuracy"
               if rel.overconfident else "underconfident or calibrated: its mean confidence "
                                         "does not exceed its accuracy")
    report.text(f"Expected calibration error {rel.ece:.3f}; mean confidence "
                f"{rel.mean_confidence:.3f} against an accuracy of {rel.accuracy_overall:.3f}: "
                f"{verdict}.")
    report.text(f"None of these: a prediction whose top probability is below "
                f"{f.threshold:.3f} is answered as \"none of the classes\" by the predict "
                f"command. That threshold rejects {f.reject_known:.1%} of the validation "
                f"images (all of known classes), and {f.rejected_test:.1%} of the test "
                "images. How many images of classes the model never saw it catches cannot "
                "be measured on this folder (chapter 8 measures it on held-out classes).")

    report.heading("Would more images help?")
    report.figure(plots.plot_learning_curve(f.learning_curve),
                  alt="Test accuracy of a linear head on the frozen base's features against "
                      "the number of training images, mean and range over seeds.",
                  caption="A learning curve: a linear head on the frozen base's features, "
                          "trained on growing shares of the training split.")
    report.text(_learning_curve_sentence(f.learning_curve))

    report.heading("Use the model")
    report.text("Classify image files (the top classes of each, or \"none of the classes\"):")
    run_dir = shlex.quote(f.run_dir)  # as a shell needs it, pasted
    report.preformatted(f"tl-predict {run_dir} IMAGE...")
    report.text("In Python, without tlhelpers (the model is made of standard Keras layers; "
                "it takes raw RGB pixels in [0, 255] at "
                f"{recipe['image_size'][0]} x {recipe['image_size'][1]}, read as the training "
                "pipeline read them):")
    report.preformatted(
        "import keras, tensorflow as tf\n"
        f"model = keras.models.load_model({f.run_dir + '/model.keras'!r})\n"
        "image = tf.io.decode_image(tf.io.read_file('photo.jpg'), channels=3,\n"
        "                           expand_animations=False)\n"
        f"image = tf.image.resize(image, {tuple(recipe['image_size'])!r})  # bilinear\n"
        "probs = model.predict(image[None], verbose=0)[0]")
    report.text("Outside Python: export it for TensorFlow Serving, ONNX Runtime or LiteRT:")
    report.preformatted(f"tl-export {run_dir} --format onnx   # or saved_model, litert")
    report.table(["file in the run's folder", "what it holds"], f.files)

    report.heading("Settings")
    report.table(["setting", "value"], [[key, ", ".join(map(str, value))
                                         if isinstance(value, list) else value]
                                        for key, value in recipe.items()])
    report.heading("Libraries and machine")
    report.table(["", "version"], [*f.versions.items(), *f.machine.items()])
    return report


def model_card(f: RunFindings) -> str:
    """A short model card (Markdown): data, classes, recipe, results per class, limits."""
    summary, recipe = f.summary, f.recipe
    lines = [f"# Model card: {f.title}", "",
             "## What it is",
             f"An image classifier of {len(f.class_names)} classes, trained by `tl-train` "
             f"(tlhelpers) on {f.base_title} with "
             + ("ImageNet weights" if recipe["weights"] == "imagenet" else "random weights")
             + f", for RGB images resized to {recipe['image_size'][0]} x "
               f"{recipe['image_size'][1]} (raw pixels in [0, 255]).", "",
             "## Data",
             f"The folder `{recipe['data_dir']}`:", "", "```", f.folder_report, "```", "",
             "## Recipe",
             f"Stage 1: the head ({head_text(recipe, len(f.class_names))}) on the frozen "
             f"base, Adam at {recipe['learning_rate']:g}, up "
             f"to {recipe['max_epochs']} epochs with early stopping (patience "
             f"{recipe['patience']}). Stage 2: {', '.join(recipe['fine_tune_blocks'])} "
             f"unfrozen (BatchNormalization frozen), Adam at "
             f"{recipe['fine_tune_learning_rate']:g}, up to {recipe['fine_tune_epochs']} "
             f"epochs, kept only if it betters stage 1's "
             f"{recipe['monitor'].replace('val_', 'validation ')}. Augmentation: "
             f"{recipe['augment']}; class weights: {recipe['class_weight']}; seed "
             f"{recipe['seed']}.", "",
             "## Results on the test split",
             f"Accuracy {summary.accuracy:.3f}, balanced accuracy "
             f"{summary.balanced_accuracy:.3f} (largest class alone: "
             f"{summary.majority_baseline:.3f}; chance {summary.chance:.3f}).", "",
             "| class | precision | recall | test images |", "|---|---|---|---|"]
    lines += [f"| {name} | {v['precision']:.3f} | {v['recall']:.3f} | {v['support']} |"
              for name, v in summary.per_class.items()]
    lines += ["", "## Limits",
              "- It knows only these classes. An image of another kind is still given one "
              f"of them; the predict command answers \"none of the classes\" below a top "
              f"probability of {f.threshold:.3f} (chosen on the validation images, "
              f"{f.reject_known:.1%} of which fall below it), which catches some such "
              "images, not all.",
              f"- Its probabilities: expected calibration error {f.reliability.ece:.3f} on "
              "the test split (see the report's reliability diagram).",
              "- Its results hold for images like those of the folder; other cameras, "
              "lighting or backgrounds may lower them.",
              *[f"- {w}" for w in summary.warnings()], ""]
    return "\n".join(lines)
