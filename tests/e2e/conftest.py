"""The e2e tier's shared batches (:mod:`tests.e2e.farm`): started once the session's tests are
collected, with only the jobs the selected tests read, and given to tests as the ``farm``
fixture; tests that need a quiet machine ask for ``quiet``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.e2e.farm import Farm, jobs

FARM = pytest.StashKey[Farm]()


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    readers = {item.path.name for item in session.items}
    work = Path(tempfile.mkdtemp(prefix="vaegrade-farm-"))
    work.chmod(0o755)  # the sandbox user runs the wheel's environment's Python from inside it
    farm = Farm(work)
    farm.start([job for job in jobs() if readers & set(job.readers)])
    session.config.stash[FARM] = farm


def pytest_sessionfinish(session: pytest.Session) -> None:
    farm = session.config.stash.get(FARM, None)
    if farm is not None:
        farm.close()
        shutil.rmtree(farm.work, ignore_errors=True)


@pytest.fixture(scope="session")
def farm(request: pytest.FixtureRequest) -> Farm:
    return request.config.stash[FARM]


@pytest.fixture(scope="session")
def quiet(farm: Farm) -> None:
    """No batch of the farm runs while the test does (its time limits are tight, or it looks at
    every sandbox process on the machine): once every job has finished, none starts again."""
    farm.quiet()
