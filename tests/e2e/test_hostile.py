"""The hostile corpus (tests/e2e/hostile_corpus.py), graded in one sandboxed batch with two
workers: every attack is contained, gets exactly the points it earned, is explained, and the
plain submission in the same batch is graded normally."""

import hashlib
import os
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from tests.e2e.hostile_corpus import CASES, MARKER, RUBRIC, attack_outputs, default_context, reported, write_corpus
from vaegrade.grader.batch.grade import grade_submissions
from vaegrade.grader.rubric.schema import load_rubric
from vaegrade.grader.run import isolation as sandbox
from vaegrade.grader.run.submissions import find_submissions

ASSETS = Path(__file__).resolve().parents[2] / "reference" / "assets"


def sandbox_uid_processes() -> list[str]:
    """Command lines of live (not zombie) processes owned by a sandbox uid or carrying the
    corpus' marker. Zombies are left out: an orphan re-parented to a pid 1 that does not reap
    (as in some containers) is dead, holds no memory or files, and cannot run code."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            uid = entry.stat().st_uid
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        if MARKER in cmdline or sandbox.SANDBOX_UID_BASE <= uid < sandbox.SANDBOX_UID_BASE + 64:
            found.append(f"{entry.name} uid {uid}: {cmdline[:100]}")
    return found


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, quiet):
    try:
        sandbox.Bubblewrap.check_available(load_rubric(RUBRIC).execution)
    except sandbox.SandboxUnavailable as exc:
        pytest.fail(f"the sandbox must work for these tests (.ci/run installs bubblewrap): {exc}")
    work = tmp_path_factory.mktemp("hostile")
    connections = []
    server = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: connections.append(server.accept()), daemon=True).start()
    folder = work / "batch"
    context = default_context(folder, port=server.getsockname()[1])
    write_corpus(folder, context)
    assets_before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ASSETS.iterdir() if p.is_file()}
    out = work / "out"
    results = grade_submissions(find_submissions([folder]), load_rubric(RUBRIC), out, jobs=2)
    server.close()
    return {
        "results": {r.submission: r for r in results}, "out": out, "context": context, "connections": connections,
        "assets_before": assets_before, "leftovers": sandbox_uid_processes(),
    }


def test_the_corpus_has_at_least_20_attacks():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_attack_is_contained_and_graded_as_earned(corpus, case):
    result = corpus["results"][case.name]
    if case.or_failure and result.status == "error":
        assert case.or_failure in result.error and "internal grader error" not in result.error, result.error
    else:
        assert result.score == case.score, reported(result)
        assert case.message in reported(result)
    assert result.isolation is not None and result.isolation.mode == "bubblewrap"
    assert result.isolation.network == "none"
    lines = attack_outputs(corpus["out"] / case.name / "executed.ipynb")
    assert not any(line.startswith("ATTACK-SUCCEEDED") for line in lines), lines
    if case.blocked:
        assert lines and all(line.startswith("ATTACK-BLOCKED") for line in lines), lines


def test_the_plain_submission_in_the_same_batch_is_graded_normally(corpus):
    victim = corpus["results"]["victim"]
    assert victim.status == "graded" and victim.score == 10 and victim.execution.status == "completed"


def test_each_worker_runs_as_its_own_unprivileged_uid(corpus):
    uids = {r.isolation.uid for r in corpus["results"].values()}
    if os.geteuid() == 0:  # two workers, each with the slot it leased
        assert len(uids) == 2 and all(sandbox.SANDBOX_UID_BASE <= uid < sandbox.SANDBOX_UID_BASE + 256 for uid in uids)
    else:
        assert uids == {os.geteuid()}


def test_nothing_outside_the_sandbox_was_touched(corpus):
    assert not Path(corpus["context"]["outside"]).exists()
    assert corpus["connections"] == []
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ASSETS.iterdir() if p.is_file()}
    assert after == corpus["assets_before"]


def test_no_process_outlives_its_kernel(corpus):
    assert corpus["leftovers"] == []


def test_raw_writes_to_fds_1_and_2_go_to_the_kernel_log(corpus):
    log = (corpus["out"] / "fake_passed_output" / "kernel.log").read_text()
    assert "PASSED 10/10 (fd 1)" in log and "PASSED 10/10 (fd 2)" in log


def test_flooded_output_is_capped_in_the_executed_notebook(corpus):
    executed = corpus["out"] / "print_100mb" / "executed.ipynb"
    assert executed.stat().st_size < 3 * 2**20
    text = "".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells for o in c.get("outputs", []))
    assert "[vaegrade: outputs beyond 1 MB were dropped]" in text


def test_a_memory_hog_is_stopped_by_the_memory_limit(corpus):
    result = corpus["results"]["allocate_10gb"]
    if "cgroup" in result.isolation.memory_limit:
        assert "exceeded the memory limit of 1024 MB" in result.error
    else:  # an address-space limit makes the allocation itself fail
        assert "MemoryError" in reported(result)
