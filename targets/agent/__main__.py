"""`python -m edgeship.targets.agent` on the host; in the zipapp, a __main__ of the same two lines runs it."""
import sys

from .main import main

sys.exit(main())
