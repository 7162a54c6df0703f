"""python -m edgeship.pipeline.cli: the edgeship command."""
import sys

from edgeship.pipeline.cli.main import main

sys.exit(main())
