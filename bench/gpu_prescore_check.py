"""On a machine with a GPU: the backbone on the GPU gives the CPU's outputs, and how fast it is.

Runs without Django or a database (scoring/model only), on a randomly initialised DenseNet written
under the official weights file name (no weights can be downloaded). Prints the largest difference
between CPU and GPU logits and pooled features, and the GPU's backbone throughput per batch size.

    python bench/gpu_prescore_check.py [--images 256]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import numpy as np
    import torch

    from scoring.model.backbone import load_backbone, place_backbone
    from scoring.model.features import extract
    from scoring.model.preprocess import preprocess_bytes
    from tests.model_weights import chest_png, write_random_weights

    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=256)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no GPU visible to torch")
    weights = write_random_weights(Path(tempfile.mkdtemp()))
    arrays = [preprocess_bytes(chest_png(i)) for i in range(32)]
    cpu = load_backbone(cache_dir=weights)
    gpu = place_backbone(load_backbone(cache_dir=weights), "cuda")  # as a GPU model worker does
    cpu_logits, cpu_pooled = extract(cpu, arrays, batch_size=8)
    gpu_logits, gpu_pooled = extract(gpu, arrays, batch_size=8)
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    print(
        f"max |CPU - GPU| logits {np.abs(cpu_logits - gpu_logits).max():.2e}, "
        f"pooled {np.abs(cpu_pooled - gpu_pooled).max():.2e}"
    )
    many = (arrays * (args.images // len(arrays) + 1))[: args.images]
    for batch in (1, 16, 64):
        extract(gpu, many[:batch], batch_size=batch)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        extract(gpu, many, batch_size=batch)
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        print(f"GPU backbone, batch {batch:3}: {args.images / elapsed:8.1f} images/s")
    t0 = time.perf_counter()
    extract(cpu, many[:32], batch_size=8)
    print(f"CPU backbone ({torch.get_num_threads()} threads), batch 8: {32 / (time.perf_counter() - t0):8.1f} images/s")


if __name__ == "__main__":
    main()
