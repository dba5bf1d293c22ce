"""`python -m experiments.report DIR`: rebuild a run's report."""

import sys

from experiments.report.build import main

sys.exit(main())
