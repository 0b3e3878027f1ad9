import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # tests/toy_env.py
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def smac_dg():
    """The SMAC family's DG module (executor and planner; registered by importing `leed.dg`)."""
    from leed.dg import smac

    return smac
