"""`vaegrade review`, end to end: a class graded with a written question whose hedged or negated
answers are left to the instructor; the page lists them grouped; a decision changes the score,
the feedback page, the gradebook CSV and the exports; a regrade of the unchanged class keeps it;
the page, served on localhost, is looked at in headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import threading

import nbformat
import pytest
from werkzeug.serving import make_server

from tests.classes import CORRECT_KL, kl_rubric
from vaegrade.grader.batch.review import make_app
from vaegrade.grader.cli.main import main
from vaegrade.grader.results import load_result

QUESTION = {"source": "notebook", "questions": [{
    "id": "beta", "title": "What does a large beta do to the samples?", "locate": {"label": "^#+ What does a large beta do"},
    "concepts": [{"name": "the samples blur", "patterns": [r"samples[^.]{0,30}blur"], "points": 2}]}]}
ANSWERS = {
    "ada": "With a large beta the samples blur, because the KL term outweighs the reconstruction.",
    "bob": "With a large beta the samples are not blurry at all.",
    "cy": "With a large beta the samples might blur a little.",
    "dee": "With a large beta the samples might get blurry.",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("review")
    (folder / "class").mkdir()
    for name, answer in ANSWERS.items():
        cells = [nbformat.v4.new_code_cell(CORRECT_KL), nbformat.v4.new_markdown_cell("## What does a large beta do to the samples?"),
                 nbformat.v4.new_markdown_cell(answer)]
        nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / "class" / f"{name}.ipynb")
    kl_rubric(folder / "rubric.yaml", report=QUESTION)
    command = ["grade", str(folder / "class"), "--rubric", str(folder / "rubric.yaml"), "--out", str(folder / "out"),
               "--isolation", "none", "--quiet"]
    assert main(command) == 0
    return folder, command


def concepts(out, name):
    return next(c for c in load_result(out / name).checks if c.id == "report.beta.concepts")


def test_pending_judgements_are_held_back_grouped_and_decided_into_every_output(graded):
    folder, command = graded
    out = folder / "out"
    assert concepts(out, "ada").score == 2 and concepts(out, "ada").status == "passed"
    for name in ("bob", "cy", "dee"):
        assert concepts(out, name).score == 0 and "Awaiting your instructor's review (2 point(s) held back)" in concepts(out, name).message
    assert "3 written-answer judgement(s) awaiting" not in (out / "index.html").read_text()
    assert "1 written-answer judgement(s) awaiting your review" in (out / "index.html").read_text()
    assert "awaiting your instructor's review: the samples blur" in (out / "bob" / "feedback.html").read_text()

    client = make_app(out).test_client()
    page = client.get("/").get_data(as_text=True)
    assert page.count('class="group"') == 2  # the two "might" sentences together, the negated one alone
    assert "<mark>With a large beta the samples are not blurry at all.</mark>" in page
    keys = [["cy", "report.beta.concepts", "the samples blur", "With a large beta the samples might blur a little."],
            ["dee", "report.beta.concepts", "the samples blur", "With a large beta the samples might get blurry."]]
    assert client.post("/decide", json={"keys": keys, "decision": "credit"}).get_json() == {"decided": 2, "waiting": 1}
    assert client.post("/decide", json={"keys": [["bob", "report.beta.concepts", "the samples blur",
                                                   "With a large beta the samples are not blurry at all."]],
                                        "decision": "no credit"}).get_json() == {"decided": 1, "waiting": 0}
    assert client.post("/decide", json={"keys": [["zed", "x", "y", "z"]], "decision": "credit"}).status_code == 404

    assert concepts(out, "cy").score == 2 and load_result(out / "cy").score == load_result(out / "ada").score
    assert concepts(out, "bob").score == 0 and "Reviewed by your instructor" in concepts(out, "bob").message
    assert "found: the samples blur" in (out / "cy" / "feedback.html").read_text()
    assert "(decided by your instructor)" in (out / "cy" / "feedback.html").read_text()
    book = {row["submission"]: row for row in csv.DictReader(io.StringIO((out / "gradebook.csv").read_text()))}
    assert float(book["cy"]["report.beta.concepts"]) == 2 and float(book["bob"]["report.beta.concepts"]) == 0
    assert main(["export", str(out), "--format", "long-json", "--to", str(folder / "long.json")]) == 0
    rows = {(r["submission"], r["check"]): r["check_score"] for r in json.loads((folder / "long.json").read_text())}
    assert rows["dee", "report.beta.concepts"] == 2
    assert "awaiting your review" not in (out / "index.html").read_text()

    assert main(command + ["--force"]) == 0  # graded again from scratch: the decisions stay
    assert concepts(out, "cy").score == 2 and concepts(out, "bob").score == 0 and concepts(out, "dee").score == 2


def test_the_page_served_on_localhost_in_headless_chromium(graded, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it when run as root)")
    folder, _ = graded
    app = make_app(folder / "out")
    bob = ["bob", "report.beta.concepts", "the samples blur", "With a large beta the samples are not blurry at all."]
    assert app.test_client().post("/decide", json={"keys": [bob], "decision": None}).get_json()["waiting"] == 1  # taken back
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        shot = tmp_path / "review.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                        f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)
    finally:
        server.shutdown()
    assert "Written answers to review" in dom and 'class="group focus"' in dom  # the script ran: the first group has focus
    assert shot.stat().st_size > 10_000
