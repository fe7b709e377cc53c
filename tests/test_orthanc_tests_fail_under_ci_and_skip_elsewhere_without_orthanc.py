"""Without Orthanc, the archive tests fail under CI (so that CI cannot pass without running them) and are
skipped elsewhere, saying what to install; the process started for them is stopped again."""

import pytest

from tests import orthanc_support


@pytest.fixture
def no_orthanc(monkeypatch):
    monkeypatch.setattr(orthanc_support, "_server", None)
    monkeypatch.setenv("ORTHANC_BINARY", "/nonexistent/Orthanc")


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_a_missing_orthanc_fails_the_test(no_orthanc, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="apt-get install orthanc orthanc-dicomweb"):
        orthanc_support.orthanc_archive()


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_elsewhere_a_missing_orthanc_skips_the_test(no_orthanc, monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="apt-get install orthanc orthanc-dicomweb"):
        orthanc_support.orthanc_archive()


def test_a_started_orthanc_answers_with_its_credentials_only_and_stops(monkeypatch):
    import requests

    server = orthanc_support.orthanc_archive()
    assert requests.get(f"{server.root}/system", auth=(orthanc_support.USERNAME, "wrong"), timeout=5).status_code == 401
    answer = requests.get(
        f"{server.dicomweb_url}/studies", auth=(orthanc_support.USERNAME, orthanc_support.PASSWORD), timeout=5
    )
    assert answer.status_code == 200
    # A second one, stopped here: the process ends and its folder goes.
    monkeypatch.setattr(orthanc_support, "_server", None)
    other = orthanc_support.orthanc_archive()
    assert other.port != server.port
    other.stop()
    assert other.process.poll() is not None and not other.folder.exists()
