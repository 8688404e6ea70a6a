"""Writes the way real scripts do: relative files, run folders, files beside the script, absolute paths
inside the checkout, a shell command, numpy and torch's own writers."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from model import AlexNet
from torchvision import datasets, transforms

HERE = Path(__file__).resolve().parent
os.makedirs("runs/exp1", exist_ok=True)
open("runs/exp1/events.log", "w").write("start\n")
(HERE / "beside_the_script.txt").write_text("hello")
with open(os.path.abspath("absolute.json"), "w") as f:
    json.dump({"ok": True}, f)
subprocess.run(["sh", "-c", "echo from-shell > shell.txt && mkdir -p outputs && touch outputs/x"], check=False)
np.save("array.npy", np.arange(3))
Path("cache").mkdir(exist_ok=True)
(Path("cache") / "index.txt").write_text("cached")
print(open("runs/exp1/events.log").read().strip(), json.load(open("absolute.json")))  # reads what it wrote

tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(), transforms.ToTensor()])
train = datasets.ImageFolder("/data/imagenet/train", tf)
loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True)
model = AlexNet(num_classes=len(train.classes))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
criterion = nn.CrossEntropyLoss()
for epoch in range(90):
    for x, y in loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
    torch.save(model.state_dict(), "model_last.pth")
    with open("runs/exp1/events.log", "a") as f:
        f.write(f"epoch {epoch}\n")
