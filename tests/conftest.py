import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))  # tests/toy_env.py
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")
