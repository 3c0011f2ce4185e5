"""The class overview of a wide class in headless Chromium at 1280 px: the table of every
submission scrolls inside its own box, so the page itself is never wider than the window; zeros
and errors are highlighted; who needs attention is listed; a mistake several students share is
one line with a count; every link resolves."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from vaegrade.grader.publish.overview import write_overview
from vaegrade.grader.results import CheckResult, SubmissionResult

CHECKS = [f"a_rather_long_check_identifier_{index:02d}" for index in range(24)]


def student(name: str, bce: float | None) -> SubmissionResult:
    if bce is None:
        return SubmissionResult(submission=name, rubric="wide", score=0, max_score=240, status="error",
                                error="the notebook is not valid JSON")
    lost = CheckResult(id=CHECKS[0], title="t", status="failed", score=0, max_score=10,
                       message=f"BCE {bce:.1f} nats/image on 1000 test images (full credit at <= 94.9, none at >= 142.4)")
    rest = [CheckResult(id=check, title="t", status="passed", score=10, max_score=10, message="ok") for check in CHECKS[1:]]
    return SubmissionResult(submission=name, rubric="wide", score=230, max_score=240, status="graded", checks=[lost, *rest])


@pytest.fixture
def page(tmp_path):
    results = [student(f"student_{index:02d}", 150.0 + index) for index in range(5)] + [student("zz_broken", None)]
    results.append(SubmissionResult(submission="zero", rubric="wide", score=0, max_score=240, status="graded",
                                    checks=[CheckResult(id=check, title="t", status="failed", score=0, max_score=10,
                                                        message="the probe did not run") for check in CHECKS]))
    for result in results:
        (tmp_path / result.submission).mkdir()
        (tmp_path / result.submission / "feedback.html").write_text("<p>feedback</p>")
    write_overview(results, tmp_path / "index.html")
    return tmp_path / "index.html"


def test_the_overview_groups_shared_mistakes_and_lists_who_needs_attention(page):
    text = page.read_text()
    assert "5 student(s): BCE # nats/image on # test images (full credit at &lt;= #, none at &gt;= #)" in text
    assert 'href="student_03/feedback.html#check-a_rather_long_check_identifier_00"' in text
    assert "Needs attention (2)" in text
    assert '<a href="zz_broken/feedback.html">zz_broken</a>: could not be graded: the notebook is not valid JSON' in text
    assert '<a href="zero/feedback.html">zero</a>: scored 0' in text
    assert text.count('<tr class="zero">') == 1 and text.count('<tr class="error">') == 1


def test_at_1280_px_the_page_is_no_wider_than_the_window_and_the_table_scrolls_within_it(page, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it when run as root)")
    probe = tmp_path / "measure.html"  # loads the overview in a 1280 px frame and writes what it measures
    probe.write_text('<iframe id="f" src="index.html" style="width:1280px;height:900px;border:0"></iframe><p id="out"></p>'
                     '<script>f.onload = () => { const d = f.contentDocument, box = d.querySelector(".scroll");'
                     ' out.textContent = [d.documentElement.scrollWidth, box.clientWidth, box.scrollWidth].join(" "); };'
                     '</script>')
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                          "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    measured = dom.split('<p id="out">')[1].split("</p>")[0]
    page_width, box_width, table_width = map(int, measured.split())
    assert page_width <= 1280 and box_width <= 1280  # the page fits the window
    assert table_width > box_width  # the wide table scrolls inside its box
    shot = tmp_path / "overview.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1400",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
