BATCH_SIZE = 128
EPOCHS = 90
LR = 0.01
DATA_DIR = "datasets/imagenet"
