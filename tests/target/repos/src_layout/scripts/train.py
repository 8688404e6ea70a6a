import torch
import torchvision.transforms as T

from alexnet_impl import alexnet

train_tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor()])

if __name__ == "__main__":
    model = alexnet(num_classes=1000)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
