"""python -m pipeline.cli: the edgeship command."""
import sys

from pipeline.cli.main import main

sys.exit(main())
