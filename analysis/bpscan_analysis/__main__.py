"""``python3 -m bpscan_analysis`` = bpfit."""
import sys

from .cli import main

sys.exit(main())
