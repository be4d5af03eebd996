#!/usr/bin/env python3
"""Checks the outputs of executed notebooks, the ones readers see on GitHub, nbviewer and in HTML
exports, for what a clean run would not leave behind.

    python3 tests/notebook_check.py NOTEBOOK.ipynb...   exit 1 listing every problem, 0 if none
    python3 tests/notebook_check.py --self-test         checks the checker on notebooks built here

Each problem is printed as `FILE: cell N: problem`, where N counts every cell of the notebook
(markdown cells too) from 1, as JupyterLab numbers them; for code cells the problem also gives the
cell's execution count as `In [n]`.

The rules, one function each (see RULES below):
  plotly_has_png       a plotly figure (application/vnd.plotly.v1+json) has its static image/png
                       twin in the same output: GitHub, nbviewer and exports run no JavaScript.
  no_absolute_paths    no text output (streams, text/plain, text/html, text/markdown) names a path
                       of the machine that ran it (/work/, /home/, /tmp/, C:\\ ...). Images and
                       plotly JSON are not looked at: base64 and data arrays contain such strings
                       by chance.
  no_stderr            no stderr stream: notebooks render it as a red box, as if something failed.
  no_errors            no error output, and no stream or text/plain output holding evcxr's
                       compile-error markers (lines starting `Error:`, `error:` or `error[E`).
  execution_counts     every code cell was executed, in order, once: counts 1, 2, 3, ... without
                       gaps (empty code cells, which executors skip, are left out).
  png_payloads         every image/png payload is valid base64 of bytes starting with PNG's
                       signature.

Standard library only, so it runs before (and without) the notebook tooling is set up.
"""

import base64
import binascii
import json
import re
import sys
import zlib

PLOTLY_MIME = "application/vnd.plotly.v1+json"
TEXT_MIMES = ("text/plain", "text/html", "text/markdown")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# An absolute path starts a word: `/tmp/` inside `https://host/tmp/` or `data/work/` is not one.
# `file:///tmp/...` is caught through its third slash.
ABSOLUTE_PATH = re.compile(
    r"(?<![\w.~-])/(?:work|home|tmp|var|root|Users)/"
    r"|(?<![A-Za-z0-9])[A-Za-z]:\\"
)
# An HTML output may embed an image as a data URI; its base64 is not text a reader sees.
DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
COMPILE_ERROR = re.compile(r"^(?:Error:|error:|error\[E\d*)", re.MULTILINE)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def text_of(value):
    """nbformat stores multi-line strings either whole or as a list of lines."""
    if isinstance(value, list):
        return "".join(value)
    return value if isinstance(value, str) else ""


def code_label(cell):
    count = cell.get("execution_count")
    return " (In [%s])" % count if count is not None else ""


def outputs(nb):
    """(cell number as JupyterLab shows it, cell, output) for every output of the notebook."""
    for number, cell in enumerate(nb.get("cells", []), 1):
        for output in cell.get("outputs", []) or []:
            yield number, cell, output


def texts(output):
    """(what, text) for every part of an output a reader sees as text."""
    if output.get("output_type") == "stream":
        yield "%s stream" % output.get("name", "?"), text_of(output.get("text"))
    for mime in TEXT_MIMES:
        if mime in output.get("data", {}):
            yield mime, text_of(output["data"][mime])


def excerpt(text, start, end):
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : line_end if line_end >= 0 else len(text)].strip()
    return line if len(line) <= 120 else line[:117] + "..."


# --- the rules -----------------------------------------------------------------------------------
# Each takes a notebook (the parsed JSON) and yields (cell number, problem).


def plotly_has_png(nb):
    for number, cell, output in outputs(nb):
        data = output.get("data", {})
        if PLOTLY_MIME in data and "image/png" not in data:
            yield number, "plotly figure%s without its image/png twin (blank without JavaScript)" % (
                code_label(cell)
            )


def no_absolute_paths(nb):
    for number, cell, output in outputs(nb):
        for what, text in texts(output):
            if what == "text/html":
                text = DATA_URI.sub("data:", text)
            match = ABSOLUTE_PATH.search(text)
            if match:
                yield number, "absolute path %r in %s%s: %s" % (
                    match.group(0),
                    what,
                    code_label(cell),
                    excerpt(text, match.start(), match.end()),
                )


def no_stderr(nb):
    for number, cell, output in outputs(nb):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            text = ANSI_ESCAPE.sub("", text_of(output.get("text"))).strip()
            first = text.splitlines()[0] if text else ""
            yield number, "stderr output%s (rendered as a red box): %s" % (
                code_label(cell),
                first[:120],
            )


def no_errors(nb):
    for number, cell, output in outputs(nb):
        if output.get("output_type") == "error":
            yield number, "error output%s: %s: %s" % (
                code_label(cell),
                output.get("ename", "?"),
                ANSI_ESCAPE.sub("", str(output.get("evalue", "")))[:120],
            )
            continue
        for what, text in texts(output):
            if what in ("text/html", "text/markdown"):
                continue
            text = ANSI_ESCAPE.sub("", text)
            match = COMPILE_ERROR.search(text)
            if match:
                yield number, "compile error in %s%s: %s" % (
                    what,
                    code_label(cell),
                    excerpt(text, match.start(), match.end()),
                )


def execution_counts(nb):
    # evcxr numbers a fresh kernel's first cell 2; tests/notebooks.sh renumbers its executed
    # copies from 1, so committed notebooks read as every other kernel's do.
    starts = (1,)
    expected = None
    for number, cell in enumerate(nb.get("cells", []), 1):
        if cell.get("cell_type") != "code" or not text_of(cell.get("source")).strip():
            continue
        count = cell.get("execution_count")
        if count is None:
            yield number, "code cell never executed (no execution count)"
            continue
        if expected is None:
            if count not in starts:
                yield number, "first execution count is %s, expected %s (not a fresh run)" % (
                    count,
                    " or ".join(map(str, starts)),
                )
        elif count != expected:
            yield number, "execution count %s after %s, expected %s (cells run out of order or again)" % (
                count,
                expected - 1,
                expected,
            )
        expected = count + 1 if isinstance(count, int) else expected


def png_payloads(nb):
    for number, cell, output in outputs(nb):
        payload = output.get("data", {}).get("image/png")
        if payload is None:
            continue
        try:
            raw = base64.b64decode(re.sub(r"\s", "", text_of(payload)), validate=True)
        except (binascii.Error, ValueError) as error:
            yield number, "image/png%s is not valid base64 (%s)" % (code_label(cell), error)
            continue
        if not raw.startswith(PNG_SIGNATURE):
            yield number, "image/png%s does not start with the PNG signature (%d bytes, begins %r)" % (
                code_label(cell),
                len(raw),
                raw[:8],
            )


RULES = [plotly_has_png, no_absolute_paths, no_stderr, no_errors, execution_counts, png_payloads]


def check(nb):
    """Every problem of one notebook as (cell number, rule name, problem), in cell order."""
    problems = [(number, rule.__name__, problem) for rule in RULES for number, problem in rule(nb)]
    return sorted(problems, key=lambda p: p[0])


def check_files(paths):
    bad = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                nb = json.load(f)
        except (OSError, ValueError) as error:
            print("%s: cannot read the notebook: %s" % (path, error))
            bad += 1
            continue
        for number, rule, problem in check(nb):
            print("%s: cell %d: %s [%s]" % (path, number, problem, rule))
            bad += 1
    return bad


# --- self-test -----------------------------------------------------------------------------------


def tiny_png(trailer=b""):
    """A real 1x1 grey PNG, with `trailer` appended after IEND (readers ignore it)."""

    def chunk(kind, body):
        return (
            len(body).to_bytes(4, "big")
            + kind
            + body
            + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    png = PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
    png += chunk(b"IEND", b"")
    return png + trailer


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


def png_with_path_in_base64():
    """A valid PNG whose base64 text contains `/work/`, to prove images are not searched."""
    png = tiny_png()
    png += b"\x00" * (-len(png) % 3)  # so what follows starts a fresh base64 quantum
    # `+` before the path: a base64 character the path pattern's word-start test lets through.
    text = b64(png + base64.b64decode("+/work/A"))
    assert "+/work/" in text
    return text


def code(count, *outs, source="let x = 1;"):
    return {
        "cell_type": "code",
        "execution_count": count,
        "metadata": {},
        "outputs": list(outs),
        "source": source,
    }


def markdown(text="# Title"):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def result(count, data):
    return {"output_type": "execute_result", "execution_count": count, "data": data, "metadata": {}}


def notebook(*cells, kernel="rust"):
    return {
        "cells": list(cells),
        "metadata": {"kernelspec": {"name": kernel, "display_name": kernel, "language": kernel}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def plotly_json(extra=None):
    figure = {"data": [{"type": "bar", "x": ["/tmp/a", "/home/b"], "y": [1, 2]}], "layout": {}}
    figure.update(extra or {})
    return figure


def clean_notebook():
    """Everything a good notebook may hold, including strings that only look like problems."""
    return notebook(
        markdown("# Data\nThe files live in `/work/` on the author's machine, says markdown."),
        code(1, stream("loaded 10 faces from data/fer2013\nsee https://example.com/tmp/x\n")),
        markdown(),
        code(
            2,
            result(2, {PLOTLY_MIME: plotly_json(), "image/png": png_with_path_in_base64()}),
        ),
        code(None, source="   \n"),  # empty: executors skip it
        code(
            3,
            result(
                3,
                {
                    "text/html": ['<img src="data:image/png;base64,%s">\n' % png_with_path_in_base64(),
                                  "<p>error: none, Error: none (not at a line start)</p>"],
                    "text/plain": "accuracy 0.61 (no error: at line start here)",
                },
            ),
        ),
        code(4, {"output_type": "display_data", "data": {"image/png": b64(tiny_png()) + "\n"},
                 "metadata": {}}),
    )


def violating_notebooks():
    """(name, notebook, rule expected to flag it, cell number, words the problem must contain)."""
    png = b64(tiny_png())
    yield ("plotly without png", notebook(markdown(), code(1, result(1, {PLOTLY_MIME: plotly_json()}))),
           plotly_has_png, 2, "without its image/png")
    yield ("path in stdout", notebook(code(1, stream("faces from /work/shared/fer2013\n"))),
           no_absolute_paths, 1, "'/work/' in stdout stream")
    yield ("path in text/plain", notebook(code(1, result(1, {"text/plain": '"/home/me/model"'}))),
           no_absolute_paths, 1, "'/home/' in text/plain")
    yield ("path in text/html", notebook(markdown(), markdown(),
                                          code(1, result(1, {"text/html": ["<td>", "/tmp/x.csv</td>"]}))),
           no_absolute_paths, 3, "'/tmp/' in text/html")
    yield ("path in text/markdown", notebook(code(1, result(1, {"text/markdown": "see /Users/me/x"}))),
           no_absolute_paths, 1, "'/Users/' in text/markdown")
    yield ("windows path", notebook(code(1, stream("saved to C:\\Users\\me\\model\n"))),
           no_absolute_paths, 1, "'C:\\\\'")
    yield ("file url", notebook(code(1, stream("open file:///var/tmp/x.html\n"))),
           no_absolute_paths, 1, "'/var/'")
    yield ("stderr", notebook(code(1, stream("epoch 1/2: loss 1.9\n", name="stderr"))),
           no_stderr, 1, "stderr output (In [1])")
    yield ("error output", notebook(code(1), code(2, {"output_type": "error", "ename": "Error",
                                                       "evalue": "boom", "traceback": []})),
           no_errors, 2, "error output (In [2]): Error: boom")
    yield ("compile error in stream", notebook(code(1, stream("\x1b[31merror[E0425]\x1b[0m: cannot find value `y`\n"))),
           no_errors, 1, "compile error in stdout stream")
    yield ("anyhow error in text/plain", notebook(code(1, result(1, {"text/plain": "ok\nError: no such file"}))),
           no_errors, 1, "compile error in text/plain")
    yield ("never executed", notebook(code(1), code(None), code(2)),
           execution_counts, 2, "never executed")
    yield ("gap in counts", notebook(code(1), markdown(), code(2), code(4)),
           execution_counts, 4, "count 4 after 2, expected 3")
    yield ("counts out of order", notebook(code(1), code(3), code(2)),
           execution_counts, 2, "count 3 after 1, expected 2")
    yield ("not a fresh run", notebook(code(6), code(7)),
           execution_counts, 1, "first execution count is 6")
    yield ("evcxr's own numbering, from 2", notebook(code(2), code(3)),
           execution_counts, 1, "first execution count is 2, expected 1")
    yield ("png not base64", notebook(code(1, result(1, {"image/png": "not*base64!"}))),
           png_payloads, 1, "not valid base64")
    yield ("png not png", notebook(code(1, result(1, {"image/png": b64(b"GIF89a" + bytes(20))}))),
           png_payloads, 1, "does not start with the PNG signature")
    yield ("plotly with a broken png", notebook(code(1, result(1, {PLOTLY_MIME: plotly_json(),
                                                                   "image/png": png[:-8] + "%%%%" + png[-4:]}))),
           png_payloads, 1, "not valid base64")


def self_test():
    failures = []
    clean = check(clean_notebook())
    if clean:
        failures.append("clean notebook flagged: %s" % clean)
    cases = list(violating_notebooks())
    for name, nb, rule, number, words in cases:
        problems = check(nb)
        hits = [p for p in problems if p[1] == rule.__name__ and p[0] == number and words in p[2]]
        if not hits:
            failures.append("%s: expected %s on cell %d with %r, got %s" % (
                name, rule.__name__, number, words, problems or "nothing"))
        others = [p for p in problems if p[1] != rule.__name__]
        if others:
            failures.append("%s: other rules fired too: %s" % (name, others))
    # Every rule has at least one notebook that breaks it.
    untested = {r.__name__ for r in RULES} - {case[2].__name__ for case in cases}
    if untested:
        failures.append("rules without a violating notebook: %s" % sorted(untested))
    for failure in failures:
        print("notebook_check self-test: FAILED: %s" % failure)
    if not failures:
        print("notebook_check self-test: ok (%d rules, %d violating notebooks and a clean one)"
              % (len(RULES), len(cases)))
    return not failures


def main(argv):
    if argv == ["--self-test"]:
        return 0 if self_test() else 1
    if not argv or argv[0] in ("-h", "--help") or any(a.startswith("-") for a in argv):
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return 1 if check_files(argv) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
