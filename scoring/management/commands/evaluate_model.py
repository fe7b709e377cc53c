"""Evaluate a feature set on the published covid-severity scores, as the paper did. No database."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotation.imaging import ImageRejected
from scoring.model.backbone import DEFAULT_WEIGHTS, WeightsMissing, WeightsUnreadable, load_backbone, weights_identity
from scoring.model.covid_severity import ScoredImage, ScoresFileError, read_patient_ids, read_scores
from scoring.model.evaluate import SD_DDOF, UngroupedCases, evaluate, grouping_check
from scoring.model.features import extract, input_size, pathologies
from scoring.model.heads import FEATURE_SETS, PAPER_CLAMP, TARGETS, select_features
from scoring.model.preprocess import preprocess_bytes


class Command(BaseCommand):
    help = (
        "Evaluate a linear head on a feature set over repeated 50/50 splits grouped by patient "
        "(Cohen et al. 2020), predictions unclamped as in the paper's notebook; prints JSON with the "
        "mean and SD of Pearson r, R^2, MAE and MSE."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--scores", required=True, type=Path, help="covid-severity-scores.csv")
        parser.add_argument("--metadata", required=True, type=Path, help="metadata.csv (filename -> patientid)")
        parser.add_argument("--images", type=Path, help="folder with the images (not needed for --features none)")
        parser.add_argument("--features", required=True, choices=FEATURE_SETS)
        parser.add_argument("--splits", type=int, default=50)
        parser.add_argument("--ridge-alpha", type=float, default=None, help="ridge instead of OLS")
        parser.add_argument(
            "--clamp", action="store_true", help="clamp predictions to 0-8 / 0-6 (the paper's notebook did not)"
        )
        parser.add_argument(
            "--group-by-case",
            action="store_true",
            help="accept that cases without a patient id are each their own group (else refused)",
        )
        parser.add_argument("--weights", default=None, help=f"torchxrayvision weights (default {DEFAULT_WEIGHTS})")
        parser.add_argument("--cache-dir", default=None, help="folder holding the weights file")
        parser.add_argument("--batch-size", type=int, default=16)

    def handle(self, *args, **options):
        feature_set = options["features"]
        if options["splits"] < 2:
            raise CommandError("--splits must be at least 2")
        try:
            images = read_scores(options["scores"])
            patient_ids = read_patient_ids(options["metadata"])
        except (OSError, ScoresFileError) as exc:
            raise CommandError(str(exc)) from None
        if feature_set == "none":
            X = np.zeros((len(images), 0))
        else:
            # torchxrayvision prints its warnings to sys.stdout, which must stay pure JSON.
            with contextlib.redirect_stdout(sys.stderr):
                images, X = self._features(images, feature_set=feature_set, options=options)
        if len(images) < 4:
            raise CommandError(f"only {len(images)} case(s) to evaluate; need at least 4")
        groups = [patient_ids.get(image.filename) for image in images]
        try:
            grouping = grouping_check(groups, allow_case_grouping=options["group_by_case"])
        except UngroupedCases as exc:
            raise CommandError(f"{exc} (--group-by-case)") from None
        metrics = evaluate(
            X,
            {target: np.array([image.scores[target] for image in images]) for target in TARGETS},
            groups,
            feature_set=feature_set,
            n_splits=options["splits"],
            ridge_alpha=options["ridge_alpha"],
            clamp=PAPER_CLAMP if options["clamp"] else {},
        )
        result = {
            "feature_set": feature_set,
            "n_splits": options["splits"],
            "sd_ddof": SD_DDOF,
            "clamped": options["clamp"],
            "backbone": getattr(self, "backbone", None),  # weights file SHA-256 and library versions
            "grouped_by": grouping["by"],
            "n_cases": len(images),
            "n_patients": grouping["n_patients"],
            "n_cases_without_patient_id": grouping["n_cases_without_patient_id"],
            **metrics,
        }
        self.stdout.write(json.dumps(result, indent=2, allow_nan=False))

    def _features(
        self, images: list[ScoredImage], *, feature_set: str, options: dict
    ) -> tuple[list[ScoredImage], np.ndarray]:
        folder = options["images"]
        if folder is None:
            raise CommandError(f"--features {feature_set} needs --images DIR")
        weights = options["weights"] or getattr(settings, "SCORING_XRV_WEIGHTS", DEFAULT_WEIGHTS)
        cache_dir = options["cache_dir"] or getattr(settings, "SCORING_XRV_CACHE_DIR", None)
        try:  # before decoding anything: a missing file should fail at once
            model = load_backbone(weights=weights, cache_dir=cache_dir)
            self.backbone = weights_identity(weights=weights, cache_dir=cache_dir).describe()
        except (WeightsMissing, WeightsUnreadable, ValueError) as exc:
            raise CommandError(str(exc)) from None
        kept, arrays = [], []
        for image in images:
            path = folder / image.filename
            try:
                arrays.append(preprocess_bytes(path.read_bytes(), size=input_size(model)))
            except FileNotFoundError:
                self.stderr.write(f"skipped {image.filename}: not found in {folder}")
                continue
            except ImageRejected as exc:
                self.stderr.write(f"skipped {image.filename}: {exc}")
                continue
            kept.append(image)
        logits, pooled = extract(model, arrays, batch_size=options["batch_size"])
        try:
            return kept, select_features(feature_set, logits, pooled, pathologies(model))
        except ValueError as exc:  # a feature set these weights cannot give
            raise CommandError(str(exc)) from None
