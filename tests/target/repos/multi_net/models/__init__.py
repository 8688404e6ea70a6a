from .alexnet import *  # noqa: F401,F403
from .lenet import *  # noqa: F401,F403
from .vgg import *  # noqa: F401,F403
