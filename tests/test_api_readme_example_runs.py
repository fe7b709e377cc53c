"""The README's API example, run as written against a live server with `requests`.

Its pre-score job runs a random-weight DenseNet saved under the official file name (eagerly, in the
server's request, once the job is committed), so the example stays strict: a failed job is an error.
"""

import gc
import re
import threading
from pathlib import Path

from accounts.services import api_token_get_or_create
from annotation.models import Study
from scoring.models import AgreementReport, Prediction
from tests.conftest import png_bytes, zip_bytes

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- readme-example: api"


def readme_example() -> str:
    text = README.read_text()
    after = text[text.index(MARKER) :]
    return re.search(r"```python\n(.*?)```", after, re.DOTALL).group(1)


RATINGS = """image,rater,extent_right,extent_left,opacity_right,opacity_left
a.png,r1,1,1,1,1
a.png,r2,1,2,1,1
a.png,r3,2,1,1,1
b.png,r1,3,3,2,2
b.png,r2,4,3,2,2
b.png,r3,3,4,2,3
c.png,r1,0,0,0,0
c.png,r2,0,1,0,1
c.png,r3,0,0,0,0
"""


def test_readme_api_example_runs_against_a_live_server(
    live_server, personas, fake_backbone, tmp_path, monkeypatch, capsys
):
    (tmp_path / "scans.zip").write_bytes(
        zip_bytes({"a.png": png_bytes(1), "b.png": png_bytes(2), "c.png": png_bytes(3)})
    )
    (tmp_path / "ratings.csv").write_text(RATINGS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CXR_API", f"{live_server.url}/api/v1")
    monkeypatch.setenv("CXR_TOKEN", api_token_get_or_create(user=personas["alice"]).key)

    namespace = {"__name__": "readme_example"}
    exec(compile(readme_example(), str(README), "exec"), namespace)
    # End the example's keep-alive connection (its session and last responses hold the socket), so
    # that the server's request thread ends and closes its database session: PostgreSQL refuses to
    # drop the test database while one is open.
    namespace["api"].close()
    namespace.clear()
    gc.collect()
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=10)

    study = Study.objects.get(slug="pilot")
    assert study.status == "open" and study.cases.count() == 3
    assert study.memberships.get(user=personas["alice"]).role == "owner"
    assert AgreementReport.objects.get(study=study, status="done").data["n_ratings"] == 9
    assert Prediction.objects.filter(case__study=study, model_version__number=1).count() == 3
    out = capsys.readouterr().out
    assert "{'imported': 3, 'duplicate': 0, 'rejected': 0}" in out and "'value':" in out
    assert "{'cases': 3, 'predicted': 3, 'already_predicted': 0, 'saliency_maps': 0}" in out
