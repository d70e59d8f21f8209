"""The Chinese edition keeps up with the English one: every message of every English page
(paragraph, heading, list item, table cell, caption), extracted afresh from the sources
as they are now, has a Chinese translation in `locales/zh_CN/LC_MESSAGES`, and none is
only a fuzzy one (an old translation of a message that has since changed).

When an English page changes: `make catalogues`, then translate what this test lists and
remove the `fuzzy` marks you have checked (see locales/README.md).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
SOURCES = ("_config.yml", "_toc.yml", "_ext", "book", "notebooks", "results")


def extract_messages(root: Path, out: Path) -> dict[str, list[str]]:
    """Extracts the English messages of the book at `root` with Sphinx's gettext builder.

    Args:
        root: a folder holding the book's sources (`_config.yml`, `_toc.yml`, pages).
        out: an empty folder for the build.

    Returns:
        Each page (`book/intro`, `notebooks/01_nine_steps`, ...) and its messages, in order.
    """
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    build = subprocess.run(
        [str(jupyter_book), "build", str(root), "--builder", "custom", "--custom-builder",
         "gettext", "--path-output", str(out), "--all"],
        capture_output=True, text=True, check=False)
    assert build.returncode == 0, f"the gettext build failed:\n{build.stdout}\n{build.stderr}"
    pages = {}
    gettext = out / "_build" / "gettext"
    for pot in sorted(gettext.rglob("*.pot")):
        with pot.open("rb") as f:
            catalog = read_po(f)
        page = pot.relative_to(gettext).with_suffix("").as_posix()
        pages[page] = [m.id for m in catalog if m.id and isinstance(m.id, str)]
    assert pages, f"the gettext build wrote no catalogue under {gettext}"
    return pages


def untranslated(pages: dict[str, list[str]], locale: Path) -> list[str]:
    """Every message without a Chinese translation, or with only a fuzzy one.

    Args:
        pages: each page and its English messages (`extract_messages`).
        locale: the folder of the Chinese catalogues (`<page>.po` per page).

    Returns:
        One line per problem: the page, what is wrong, and the message's first words.
    """
    problems = []
    for page, messages in pages.items():
        po = locale / f"{page}.po"
        if not po.is_file():
            problems.append(f"{page}: no catalogue {po.relative_to(locale.parents[1])} "
                            f"({len(messages)} messages); run `make catalogues`")
            continue
        with po.open("rb") as f:
            catalog = read_po(f)
        for message_id in messages:
            message = catalog.get(message_id)
            short = " ".join(message_id.split())
            short = short if len(short) <= 90 else short[:87] + "..."
            if message is None:
                problems.append(f"{page}: not in the catalogue (run `make catalogues`): "
                                f"{short!r}")
            elif not message.string:
                problems.append(f"{page}: not translated: {short!r}")
            elif message.fuzzy:
                problems.append(f"{page}: fuzzy (the English changed; check the "
                                f"translation, then remove `#, fuzzy`): {short!r}")
    return problems


@pytest.fixture(scope="module")
def english_pages(tmp_path_factory) -> dict[str, list[str]]:
    """The English messages of the book as its sources are now."""
    root = tmp_path_factory.mktemp("book")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy2(source, root / name)
    return extract_messages(root, tmp_path_factory.mktemp("gettext"))


def test_every_page_of_the_book_has_a_chinese_catalogue(english_pages):
    pages = {p.relative_to(LOCALE).with_suffix("").as_posix() for p in LOCALE.rglob("*.po")}
    assert set(english_pages) <= pages, sorted(set(english_pages) - pages)
    assert {"book/intro", "notebooks/01_nine_steps"} <= set(english_pages)


def test_every_english_message_has_a_chinese_translation_that_is_not_fuzzy(english_pages):
    problems = untranslated(english_pages, LOCALE)
    assert not problems, (f"{len(problems)} message(s) of the English edition lack a "
                          "Chinese translation:\n" + "\n".join(problems))


def test_a_changed_english_sentence_is_reported_until_its_translation_is_updated(tmp_path):
    """The check itself: a catalogue that translates a page's messages passes; the same
    catalogue fails once a sentence of the page changes, naming the page and the
    message; and passes again once the changed message is translated."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    catalog = Catalog(locale="zh_CN")
    catalog.add("A model trained from scratch starts knowing nothing.", "从零训练的模型一无所知。")
    catalog.add("Chapter 1", "第 1 章")
    (tmp_path / "book").mkdir()
    with (tmp_path / "book" / "intro.po").open("wb") as f:
        write_po(f, catalog)
    pages = {"book/intro": ["A model trained from scratch starts knowing nothing.",
                            "Chapter 1"]}
    assert untranslated(pages, tmp_path) == []

    changed = {"book/intro": ["A model trained from scratch knows nothing.", "Chapter 1"]}
    assert untranslated(changed, tmp_path) == [
        "book/intro: not in the catalogue (run `make catalogues`): "
        "'A model trained from scratch knows nothing.'"]

    catalog.add("A model trained from scratch knows nothing.", "从零训练的模型一无所知。",
                flags=["fuzzy"])
    with (tmp_path / "book" / "intro.po").open("wb") as f:
        write_po(f, catalog)
    assert untranslated(changed, tmp_path)[0].startswith("book/intro: fuzzy")

    catalog["A model trained from scratch knows nothing."].flags.discard("fuzzy")
    with (tmp_path / "book" / "intro.po").open("wb") as f:
        write_po(f, catalog)
    assert untranslated(changed, tmp_path) == []


def test_every_part_of_the_table_of_contents_has_a_chinese_caption():
    """The sidebar's part captions come from _toc.yml, not from a page: `make html-zh`
    takes their Chinese from locales/zh_CN/toc.yml, which must name every one."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    chinese = yaml.safe_load((ROOT / "locales" / "zh_CN" / "toc.yml").read_text(
        encoding="utf-8"))
    missing = [part["caption"] for part in toc["parts"]
               if not str(chinese.get(part["caption"], "")).strip()]
    assert not missing, ("parts of _toc.yml without a Chinese caption in "
                         f"locales/zh_CN/toc.yml: {missing}")
