"""Ray job entrypoint for the whole pipeline (restore-or-start: a resubmitted job resumes the
experiment of the same name, skipping finished stages and restoring interrupted trials).

    ray job submit --address http://127.0.0.1:8265 --working-dir . -- \
        python jobs/run.py examples/digits.yaml --set search.num_samples=8

Takes the same config file and ``--set`` overrides as ``rayboost run``; with no file, the config
that ``rayboost submit`` sent along is used.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the working dir, when not installed

from rayboost.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["run", "--resume", *sys.argv[1:]]))
