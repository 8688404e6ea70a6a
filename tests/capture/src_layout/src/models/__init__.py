from src.models.alexnet import AlexNet  # noqa: F401
