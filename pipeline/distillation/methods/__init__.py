"""The built-in distillation methods; each module registers one Method (in this order: reports list them so)."""
# isort: skip_file
from edgeship.pipeline.distillation.methods import kd  # noqa: F401
from edgeship.pipeline.distillation.methods import fitnets  # noqa: F401
from edgeship.pipeline.distillation.methods import attention  # noqa: F401
from edgeship.pipeline.distillation.methods import similarity  # noqa: F401
from edgeship.pipeline.distillation.methods import dkd  # noqa: F401
from edgeship.pipeline.distillation.methods import cwd  # noqa: F401
from edgeship.pipeline.distillation.methods import skd  # noqa: F401
from edgeship.pipeline.distillation.methods import rkd  # noqa: F401
from edgeship.pipeline.distillation.methods import pkt  # noqa: F401
from edgeship.pipeline.distillation.methods import vid  # noqa: F401
from edgeship.pipeline.distillation.methods import crd  # noqa: F401
from edgeship.pipeline.distillation.methods import dist  # noqa: F401
from edgeship.pipeline.distillation.methods import pkd  # noqa: F401
from edgeship.pipeline.distillation.methods import imitation  # noqa: F401
from edgeship.pipeline.distillation.methods import fgd  # noqa: F401
from edgeship.pipeline.distillation.methods import head_kd  # noqa: F401
