"""Ray job entrypoint for the ensemble stage (restore-or-start).

    ray job submit --address http://127.0.0.1:8265 --working-dir . -- \
        python jobs/ensemble.py CONFIG.yaml --set name=my-experiment

Takes the same config file and ``--set`` overrides as ``rayboost run``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the working dir, when not installed

from rayboost.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["run", "--resume", "--stage", "ensemble", *sys.argv[1:]]))
