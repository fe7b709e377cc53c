"""A tiny stand-in for the torchxrayvision DenseNet, for unit tests of services and views.

It has what the platform uses of the real one (features2, classifier, pathologies, eval mode) and
answers in milliseconds. Its outputs depend on the image, smoothly, with logits of order 1, so that
predictions differ between images and do not all clamp. Tests of the real loading path and of the
worker processes use the random-weight DenseNet of tests/model_weights.py instead.
"""

OUTPUTS = [  # torchxrayvision's default pathologies, in the order of densenet121-res224-all
    "Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema", "Fibrosis",
    "Effusion", "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule", "Mass", "Hernia",
    "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum",
]  # fmt: skip


def tiny_backbone():
    """A fresh tiny backbone in eval mode (seeded: every call gives the same weights)."""
    import torch

    class TinyBackbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            generator = torch.Generator().manual_seed(0)
            self.conv = torch.nn.Conv2d(1, 16, kernel_size=16, stride=16)
            self.expand = torch.nn.Linear(16, 1024)
            self.classifier = torch.nn.Linear(1024, len(OUTPUTS))
            with torch.no_grad():
                for layer, std in ((self.conv, 0.2), (self.expand, 0.5), (self.classifier, 0.5)):
                    layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * std)
                    layer.bias.zero_()
                self.classifier.bias.fill_(3.0)  # centres the logits of chest-like images near 0
            self.pathologies = list(OUTPUTS)
            self.eval()

        def features2(self, x):
            # The real input spans [-1024, 1024]; pooled features are non-negative, as after relu.
            hidden = torch.relu(self.conv(x / 1024)).mean(dim=(2, 3))
            return torch.relu(self.expand(hidden))

        def forward(self, x):
            return self.classifier(self.features2(x))

    return TinyBackbone()
