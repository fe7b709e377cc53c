"""The API example of docs/api.md, run as written against a live server with `requests`.

Its pre-score job runs (eagerly, in the server's request, once the job is committed) on the tiny
stand-in backbone, so the example stays strict: a failed job is an error.
"""

import ast
import gc
import re
import threading
from pathlib import Path

from accounts.services import api_token_get_or_create
from annotation.models import Study
from scoring.models import AgreementReport, Prediction
from tests.conftest import png_bytes, zip_bytes

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
MARKER = "<!-- docs-example: api"


def docs_example() -> str:
    text = DOC.read_text()
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


def test_the_api_example_of_the_docs_runs_against_a_live_server(
    live_server, personas, fake_backbone, tmp_path, monkeypatch, capsys
):
    (tmp_path / "scans.zip").write_bytes(
        zip_bytes({"a.png": png_bytes(1), "b.png": png_bytes(2), "c.png": png_bytes(3)})
    )
    (tmp_path / "ratings.csv").write_text(RATINGS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CXR_API", f"{live_server.url}/api/v1")
    monkeypatch.setenv("CXR_TOKEN", api_token_get_or_create(user=personas["alice"]).key)

    namespace = {"__name__": "docs_example"}
    exec(compile(docs_example(), str(DOC), "exec"), namespace)
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
    assert out.count("/accounts/invitation/") == 3  # r1-r3 were new: invited, with links to pass on
    # PostgreSQL's jsonb keeps a dict's keys in its own order: compare the printed dict, not its text.
    results = [ast.literal_eval(line) for line in out.splitlines() if line.startswith("{'")]
    assert {"cases": 3, "predicted": 3, "already_predicted": 0, "recomputed_stale": 0, "saliency_maps": 0} in results
