"""The kernel setup, run in a fresh interpreter as the injected cell runs it: the step cap stops
each pass over a DataLoader (the data set itself stays whole)."""

from __future__ import annotations

import subprocess
import sys

from vaegrade.grader.run.transforms import SETUP_SOURCE

CAPPED = """
setup = {}
exec(compile(SOURCE, 'vaegrade_setup', 'exec'), setup)
setup['cap_steps'](3)
import torch
from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(torch.arange(100.0)), batch_size=10)
print(len(loader.dataset), len(loader), [len(list(loader)) for epoch in range(2)])
"""


def test_max_steps_per_epoch_stops_every_dataloader_pass_and_leaves_the_data_whole():
    run = subprocess.run([sys.executable, "-c", f"SOURCE = {SETUP_SOURCE!r}\n{CAPPED}"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["100", "3", "[3,", "3]"]
