"""The class overview (`OUT/index.html`), `vaegrade summary` and `vaegrade export` on a really
graded class: statistics that agree with the gradebook, links that resolve, a page that loads in
headless Chromium (where installed: `.ci/run` installs it as root); a Canvas import CSV with Canvas's identity columns
and Points Possible row, Gradescope results.json files valid against the documented format (a
hidden check shown only after publishing), and long rows that add up to the gradebook's scores."""

import csv
import html.parser
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.classes import CORRECT_KL, KL_RUBRIC, WRONG_KL, kl_rubric, write_class
from tests.conftest import ROOT
from vaegrade.grader.cli.main import main
from vaegrade.grader.publish import exports, overview

SCHEMA = json.loads((ROOT / "tests" / "data" / "gradescope_results.schema.json").read_text())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A class of three (right, wrong, not a notebook) graded with a visible and a hidden KL check."""
    tmp = tmp_path_factory.mktemp("exports")
    (visible,) = yaml.safe_load(KL_RUBRIC.read_text())["checks"]
    kl_rubric(tmp / "rubric.yaml", checks=[visible, {**visible, "id": "kl_hidden", "title": "KL, hidden cases",
                                                     "visibility": "hidden"}])
    folder = write_class(tmp / "class", {"ada": [CORRECT_KL], "bob": [WRONG_KL]})
    (folder / "cy").mkdir()  # a student folder with no notebook: an error, not a grade
    assert main(["grade", str(folder), "--rubric", str(tmp / "rubric.yaml"), "--out", str(tmp / "out"),
                 "--quiet"]) == 1
    return tmp


def test_canvas_csv_has_canvas_columns_points_and_blank_for_the_ungraded(graded, capsys):
    roster = graded / "roster.csv"
    roster.write_text("submission,Student,ID,SIS User ID,SIS Login ID,Section\n"
                      "ada,\"Lovelace, Ada\",101,S1,ada1,VAE 2026\nbob,\"Smith, Bob\",102,S2,bob2,VAE 2026\n"
                      "cy,\"Young, Cy\",103,S3,cy3,VAE 2026\ndee,\"Dee, Dee\",104,S4,dee4,VAE 2026\n")
    to = graded / "canvas.csv"
    assert main(["export", str(graded / "out"), "--format", "canvas", "--to", str(to), "--roster", str(roster),
                 "--assignment", "VAE homework (1234)"]) == 0
    rows = list(csv.reader(io.StringIO(to.read_text())))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "VAE homework (1234)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "20"]
    assert [(r[0], r[1], r[5]) for r in rows[2:]] == [
        ("Lovelace, Ada", "101", "20"), ("Smith, Bob", "102", "0"), ("Young, Cy", "103", ""), ("Dee, Dee", "104", "")]

    roster.write_text("submission,Student,ID\nada,\"Lovelace, Ada\",101\n")
    assert main(["export", str(graded / "out"), "--format", "canvas", "--to", str(to), "--roster", str(roster)]) == 2
    assert "submissions missing from the roster: bob, cy" in capsys.readouterr().err


def test_gradescope_results_validate_and_hide_the_hidden_check(graded):
    to = graded / "gradescope"
    assert main(["export", str(graded / "out"), "--format", "gradescope", "--to", str(to),
                 "--rubric", str(graded / "rubric.yaml")]) == 0
    written = {path.parent.name: json.loads(path.read_text()) for path in sorted(to.glob("*/results.json"))}
    assert sorted(written) == ["ada", "bob", "cy"]
    for results in written.values():
        jsonschema.validate(results, SCHEMA)
    ada = written["ada"]
    assert ada["score"] == 20 and [(t["number"], t["status"], t["visibility"]) for t in ada["tests"]] == [
        ("kl_divergence", "passed", "visible"), ("kl_hidden", "passed", "after_published")]
    assert written["bob"]["score"] == 0 and {t["status"] for t in written["bob"]["tests"]} == {"failed"}
    assert written["cy"]["score"] == 0 and "holds no .ipynb notebook" in written["cy"]["output"]


def test_long_rows_add_up_to_each_submissions_score(graded):
    assert main(["export", str(graded / "out"), "--format", "long-json", "--to", str(graded / "long.json")]) == 0
    rows = json.loads((graded / "long.json").read_text())
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["submission"]] = totals.get(row["submission"], 0) + (row["check_score"] or 0)
    assert totals == {"ada": 20, "bob": 0, "cy": 0}
    assert main(["export", str(graded / "out"), "--format", "long-csv", "--to", str(graded / "long.csv")]) == 0
    table = list(csv.DictReader(io.StringIO((graded / "long.csv").read_text())))
    assert [(r["submission"], r["check"]) for r in table] == [(r["submission"], r["check"]) for r in rows]


def test_export_of_an_empty_folder_says_what_to_do(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "long-csv", "--to", str(tmp_path / "x.csv")]) == 2
    assert "no graded submissions here" in capsys.readouterr().err


def test_summary_agrees_with_the_gradebook(graded, capsys):
    book = list(csv.DictReader(io.StringIO((graded / "out" / "gradebook.csv").read_text())))
    got = overview.summarise(exports.load_results(graded / "out"))
    assert sorted(got.scores) == sorted(float(row["score"]) for row in book if row["status"] == "graded")
    assert got.ungraded == [(row["submission"], row["error"]) for row in book if row["status"] != "graded"]
    for check in got.checks:
        column = [float(row[check.id]) for row in book if row["status"] == "graded"]
        assert (check.graded, check.passed, check.mean_score) == (len(column), column.count(check.max_score),
                                                                 sum(column) / len(column))
        assert check.common_failure[1] == 1 and "values differ from the reference" in check.common_failure[0]
    assert [count for _, _, count in overview.histogram(got.scores, got.max_score)] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert main(["summary", str(graded / "out")]) == 0
    printed = capsys.readouterr().out
    assert "2 graded, 1 could not be graded" in printed and "kl_hidden       1/2" in printed


class Tables(html.parser.HTMLParser):
    """Every table's rows as lists of cell texts (by table id), and every link's target."""

    def __init__(self):
        super().__init__()
        self.tables, self.links, self._table, self._cell = {}, [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = ""
        elif tag == "a":
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append(self._cell.strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def test_the_class_overview_agrees_with_the_gradebook_and_its_links_resolve(graded):
    page = graded / "out" / "index.html"
    parsed = Tables()
    parsed.feed(page.read_text())
    book = list(csv.DictReader(io.StringIO((graded / "out" / "gradebook.csv").read_text())))
    rows = parsed.tables["submissions"][1:]
    assert [(r[0], r[1], float(r[2]), r[3], r[4]) for r in rows] == [
        (b["submission"], b["status"], float(b["score"]), b["kl_divergence"] and f"{float(b['kl_divergence'])}",
         b["kl_hidden"] and f"{float(b['kl_hidden'])}") for b in book]
    assert [r[:3] for r in parsed.tables["checks"][1:]] == [["kl_divergence", "1 / 2", "50%"], ["kl_hidden", "1 / 2", "50%"]]
    assert sum(int(r[1]) for r in parsed.tables["histogram"][1:]) == 2
    assert [r[:2] for r in parsed.tables["similar"][1:] if r[0] == "code"] == [["code", "ada and bob"]]  # WRONG_KL is CORRECT_KL edited
    assert parsed.links and all((page.parent / link.split("#")[0]).is_file() for link in parsed.links)
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it when run as root)")
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "Class overview" in dom and dom.count('href="') == len(parsed.links) and "<img" not in dom


def test_the_gradescope_package_grades_a_submission_in_a_simulated_autograder_layout(graded):
    package = graded / "autograder.zip"
    assert main(["gradescope", "--rubric", str(graded / "rubric.yaml"), "--out", str(package)]) == 0
    root = graded / "autograder"
    with zipfile.ZipFile(package) as opened:
        names = set(opened.namelist())
        opened.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "rubric.yaml"} <= names and any(n.endswith(".whl") for n in names)
    (root / "submission").mkdir()
    shutil.copy(graded / "class" / "ada.ipynb", root / "submission" / "my_vae.ipynb")
    before = set(Path(tempfile.gettempdir()).glob("tmp.*"))  # mktemp -d's folders: run_autograder must leave none
    environment = {**os.environ, "AUTOGRADER_ROOT": str(root), "VAEGRADE": str(Path(sys.executable).with_name("vaegrade"))}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=environment, check=True, timeout=600,
                         capture_output=True, text=True)
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 20 and [t["visibility"] for t in results["tests"]] == ["visible", "after_published"]
    assert results["output"].startswith("vaegrade: 20 / 20.") and results["stdout_visibility"] == "hidden"
    assert run.stdout == "" and set(Path(tempfile.gettempdir()).glob("tmp.*")) == before

    # a container that refuses bubblewrap's user namespaces (Gradescope's may): graded unsandboxed, said to the staff only
    with tempfile.TemporaryDirectory(prefix="vaegrade-refusing-") as refusing:  # readable by the sandbox user, as PATH is
        Path(refusing).chmod(0o755)
        (Path(refusing) / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
        (Path(refusing) / "bwrap").chmod(0o755)
        fallback = subprocess.run(["bash", str(root / "source" / "run_autograder")], timeout=600, capture_output=True,
                                  text=True, env={**environment, "PATH": f"{refusing}:{environment['PATH']}"}, check=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 20 and "bubblewrap" not in json.dumps(results)  # the student sees a grade, no admin advice
    staff = fallback.stdout.splitlines()
    assert len(staff) == 2 and "user namespaces are not allowed here" in staff[0]
    assert staff[0].startswith("vaegrade (for the course staff): bubblewrap cannot sandbox student code in this container: ")
    assert staff[1] == "vaegrade (for the course staff): graded with --isolation none, inside Gradescope's own per-submission container"
    assert set(Path(tempfile.gettempdir()).glob("tmp.*")) == before

    (root / "submission" / "my_vae.ipynb").unlink()  # nothing handed in: a message, not Gradescope's error
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=environment, check=True, timeout=600)
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 0 and "could not grade this submission" in results["output"]
