"""Fault tests: kills, concurrent runs, reruns, untrusted code. Helpers live in faults_support.py."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # faults_support, also when a single test file is run
