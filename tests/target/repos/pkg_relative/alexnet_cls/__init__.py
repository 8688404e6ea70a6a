from .models import build_model  # noqa: F401

__version__ = "0.3.1"
