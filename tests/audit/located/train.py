"""The training script `captured.yaml` was captured from (tests/audit/test_locations.py): the
captured manifest's comments name its lines, and the findings point at them (`loc: ID ...`)."""
import torch
import torch.nn as nn
import torch.optim as optim
from models import SequentialNet


def main():
    loader = torch.utils.data.DataLoader(torch.zeros(10, 3, 224, 224), batch_size=64)  # loc: train.batch_size
    model = SequentialNet()
    criterion = nn.CrossEntropyLoss()  # loc: train.loss
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)  # loc: train.optimizer
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)  # loc: train.lr_schedule
    for epoch in range(90):  # loc: train.epochs
        for x in loader:
            loss = criterion(model(x), torch.zeros(len(x), dtype=torch.long))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        print(epoch)


if __name__ == "__main__":
    main()
