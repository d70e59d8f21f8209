"""The folder a run of the train command writes: the names of its files.

`tlhelpers.train` writes them, `tlhelpers.predict` reads them; both take the names from
here, so that neither command imports the other.
"""

from __future__ import annotations

__all__ = [
    "CLASS_NAMES_FILE",
    "CONFIG_FILE",
    "EVALUATION_FILE",
    "HISTORY_CSV",
    "HISTORY_FILE",
    "MODEL_FILE",
    "REPORT_FILE",
    "RUN_FILES",
    "STAGE1_MODEL",
]

CONFIG_FILE = "config.json"
CLASS_NAMES_FILE = "class_names.json"
STAGE1_MODEL = "stage1.keras"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
HISTORY_CSV = "history.csv"
EVALUATION_FILE = "evaluation.json"
REPORT_FILE = "report.html"
# Every file a run writes: `--restart` deletes these, and nothing else.
RUN_FILES = (CONFIG_FILE, CLASS_NAMES_FILE, STAGE1_MODEL, MODEL_FILE, HISTORY_FILE,
             HISTORY_CSV, EVALUATION_FILE, REPORT_FILE)
