"""What each torchxrayvision weights name is, known without importing torch: its file, input size,
pooled width and output names (a test checks the table against torchxrayvision's models.model_urls).
Importable by the web process, which checks a feature set against the configured weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.model.heads import select_features

# torchxrayvision.datasets.default_pathologies, the outputs of densenet121-res224-all in order:
# known here without importing torchxrayvision (which imports torch); a test checks the copy.
DEFAULT_PATHOLOGIES = (
    "Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema", "Fibrosis",
    "Effusion", "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule", "Mass", "Hernia",
    "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum",
)  # fmt: skip


@dataclass(frozen=True)
class WeightsSpec:
    """What is known about a weights name without importing torch (a test checks it against
    torchxrayvision's models.model_urls): its file, input size, pooled width and output names."""

    file: str
    input_size: int  # the square input the network was trained on (torchxrayvision's input_resolution)
    pooled_width: int  # the global-average-pooled features the classifier reads
    outputs: tuple[str, ...]  # output names in logit order; "" for an output these weights never learned


def _outputs(*missing: int) -> tuple[str, ...]:
    return tuple("" if i in missing else name for i, name in enumerate(DEFAULT_PATHOLOGIES))


_TRAINING = "densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt"
_CHEX = _outputs(2, 5, 6, 9, 11, 12, 13)  # CheXpert's and MIMIC-CXR's label set
_ALL = f"nih-pc-chex-mimic_ch-google-openi-kaggle-{_TRAINING}"
WEIGHTS = {
    "densenet121-res224-all": WeightsSpec(_ALL, 224, 1024, _outputs()),
    "densenet121-res224-nih": WeightsSpec(f"nih-{_TRAINING}", 224, 1024, _outputs(14, 15, 16, 17)),
    "densenet121-res224-pc": WeightsSpec(f"pc-{_TRAINING}", 224, 1024, _outputs(14, 16, 17)),
    "densenet121-res224-chex": WeightsSpec(f"chex-{_TRAINING}", 224, 1024, _CHEX),
    "densenet121-res224-rsna": WeightsSpec(f"kaggle-{_TRAINING}", 224, 1024, _outputs(*set(range(18)) - {8, 16})),
    "densenet121-res224-mimic_nb": WeightsSpec(f"mimic_nb-{_TRAINING}", 224, 1024, _CHEX),
    "densenet121-res224-mimic_ch": WeightsSpec(f"mimic_ch-{_TRAINING}", 224, 1024, _CHEX),
    "resnet50-res512-all": WeightsSpec("pc-nih-rsna-siim-vin-resnet50-test512-e400-state.pt", 512, 2048, _outputs()),
}  # fmt: skip
# torchxrayvision's file name for each weights name (its models.model_urls), so that the file can be
# found and hashed without importing torch.
WEIGHTS_FILES = {name: spec.file for name, spec in WEIGHTS.items()}
WEIGHTS_BASE_URL = "https://github.com/mlmed/torchxrayvision/releases/download/v1/"


def weights_spec(weights: str) -> WeightsSpec:
    """The table entry of a weights name; ValueError naming the known ones for any other."""
    if weights not in WEIGHTS:
        raise ValueError(f"unknown torchxrayvision weights {weights!r}; known: {', '.join(sorted(WEIGHTS))}")
    return WEIGHTS[weights]


def weights_url(weights: str) -> str:
    """The URL torchxrayvision would download `weights` from."""
    return WEIGHTS_BASE_URL + weights_spec(weights).file


def feature_set_check(feature_set: str, weights: str) -> None:
    """ValueError saying why, when these weights cannot give this feature set (features_1024 on the
    ResNet, lung_opacity on weights without that output)."""
    spec = weights_spec(weights)
    select_features(feature_set, np.zeros((0, len(spec.outputs))), np.zeros((0, spec.pooled_width)), spec.outputs)
