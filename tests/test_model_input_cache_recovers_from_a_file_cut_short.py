"""A kept model input cut short (a worker killed while writing it) is computed and written again,
not read as it is: the retried pre-score job finishes instead of failing on it every time
(tests/test_faults_worker_killed_mid_prescore_resumes_without_duplicates.py met it)."""

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotation.ingest import Source
from annotation.services import images_import, study_create
from scoring.services.backbone_cache import backbone_identity_current, model_input
from tests.model_weights import chest_png


@pytest.mark.django_db
def test_a_cut_short_input_is_computed_again(personas, fake_backbone):
    study = study_create(owner=personas["alice"], slug="cut", title="cut")
    images_import(study=study, sources=[Source(name="a.png", where="a.png", data=chest_png(7))])
    image = study.cases.get().image
    identity = backbone_identity_current()
    first = model_input(image, identity)
    (name,) = [f"{root}/{f}" for root, f in _kept_files()]
    whole = default_storage.open(name, "rb").read()
    default_storage.delete(name)
    default_storage.save(name, ContentFile(whole[: len(whole) - 4096]))  # as a killed worker leaves it

    again = model_input(image, identity)

    np.testing.assert_array_equal(again, first)
    assert default_storage.open(name, "rb").read() == whole  # written whole again, under the same name


def _kept_files():
    """(folder, file) of every kept model input."""
    from scoring.services.backbone_cache import INPUTS_FOLDER

    pending = [INPUTS_FOLDER]
    while pending:
        folder = pending.pop()
        folders, files = default_storage.listdir(folder)
        pending.extend(f"{folder}/{sub}" for sub in folders)
        yield from ((folder, f) for f in files)
