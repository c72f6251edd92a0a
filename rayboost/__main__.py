import sys

from rayboost.cli import main

sys.exit(main())
