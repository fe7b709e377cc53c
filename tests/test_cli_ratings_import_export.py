"""import_ratings, export_ratings and export_scores: a past reader study in, our ratings out."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Assignment, Case, Rating
from annotation.rubrics import rubric_get
from annotation.services import assignment_flag, study_assign_cases, study_lock
from reading.selectors import assignment_next_for_rater, rater_first_case
from tests.conftest import DEMO_DIR, png_bytes

RATERS = ("rater1", "rater2", "rater3")
COHEN_ITEMS = ["extent_right", "extent_left", "opacity_right", "opacity_left"]
HEADER = ["image", "rater", *COHEN_ITEMS, "duration_s", "rated_at"]


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def write_csv(path, header: list[str], rows: list[dict | list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header] if isinstance(row, dict) else row)
    path.write_text(out.getvalue(), encoding="utf-8")
    return str(path)


def cohen_row(image: str, rater: str, er=2, el=3, orr=1, ol=2, **extra) -> dict:
    return {
        "image": image,
        "rater": rater,
        "extent_right": er,
        "extent_left": el,
        "opacity_right": orr,
        "opacity_left": ol,
        **extra,
    }


def published_scores() -> list[dict[str, str]]:
    with open(DEMO_DIR / "covid-severity-scores.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def snapshot() -> tuple[int, int, set[int]]:
    return Rating.objects.count(), Assignment.objects.count(), set(Case.objects.values_list("pk", flat=True))


@pytest.fixture
def demo_study(make_study):
    """An open cohen2020 study of the six committed X-rays, rated by rater1-3."""
    study = make_study(n_cases=0, slug="demo")
    run("import_images", "demo", str(DEMO_DIR / "images"), "--metadata", str(DEMO_DIR / "metadata.csv"))
    assert study.cases.count() == 6
    return study


@pytest.fixture
def demo_images(demo_study) -> list[str]:
    return sorted(demo_study.cases.values_list("original_filename", flat=True))


# --- a valid file --------------------------------------------------------------------------------


def test_import_ratings_stores_every_row_with_derived_totals_duration_and_date(demo_study, demo_images, tmp_path):
    rows = []
    for i, image in enumerate(demo_images):
        for j, rater in enumerate(RATERS):
            rows.append(
                cohen_row(
                    image,
                    rater,
                    er=(i + j) % 5,
                    el=j,
                    orr=i % 4,
                    ol=(i + 1) % 4,
                    duration_s=f"{10 + i}.5",
                    rated_at=f"2020-04-0{j + 1}T10:3{i}:00",
                )
            )
    path = write_csv(tmp_path / "ratings.csv", HEADER, rows)

    output = run("import_ratings", "demo", path)

    assert "imported 18 rating(s) into demo" in output
    assert Rating.objects.count() == 18
    for row in rows:
        assignment = Assignment.objects.get(
            case__study=demo_study, case__original_filename=row["image"], rater__username=row["rater"]
        )
        rating = assignment.current_rating
        assert (rating.revision, rating.source) == (1, Rating.Source.IMPORT)
        assert rating.values == {key: row[key] for key in COHEN_ITEMS}
        assert rating.totals == {
            "geographic_extent": row["extent_right"] + row["extent_left"],
            "opacity": row["opacity_right"] + row["opacity_left"],
        }
        assert rating.reading_time_s == float(row["duration_s"])
        naive = datetime.fromisoformat(row["rated_at"])
        assert rating.created_at == naive.replace(tzinfo=UTC)  # a date without offset is read as UTC
        assert assignment.completed_at is not None
    # The import used the study's existing assignments: none were added.
    assert demo_study.assignments.count() == 18


def test_import_ratings_without_optional_columns_and_with_an_offset(demo_study, demo_images, tmp_path):
    path = write_csv(
        tmp_path / "ratings.csv",
        ["rated_at", *reversed(COHEN_ITEMS), "rater", "image"],  # column order does not matter
        [
            {**cohen_row(demo_images[0], "rater1"), "rated_at": "2020-05-01T12:00:00+02:00"},
            {**cohen_row(demo_images[1], "rater2"), "rated_at": ""},
        ],
    )

    run("import_ratings", "demo", path)

    first = Rating.objects.get(assignment__rater__username="rater1")
    assert first.created_at == datetime(2020, 5, 1, 10, 0, tzinfo=UTC)
    assert first.reading_time_s is None
    second = Rating.objects.get(assignment__rater__username="rater2")
    assert second.reading_time_s is None and second.created_at is not None


def test_import_ratings_reads_a_utf8_file_with_byte_order_mark(demo_study, demo_images, tmp_path):
    path = tmp_path / "excel.csv"
    write_csv(path, HEADER, [cohen_row(demo_images[0], "rater1")])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    run("import_ratings", "demo", str(path))

    assert Rating.objects.count() == 1


# --- a bad file is refused as a whole ------------------------------------------------------------

# Each case: how to spoil a valid three-row file (lines 2-4), and what the error must say.
BAD_FILES = {
    "unknown_image": (
        lambda h, r: (h, [r[0], {**r[1], "image": "not-in-study.jpg"}, r[2]]),
        "line 3: image 'not-in-study.jpg' is not in the study",
    ),
    "unknown_rater": (
        lambda h, r: (h, [r[0], r[1], {**r[2], "rater": "mallory"}]),
        "line 4: rater 'mallory' is not a rater of the study",
    ),
    "observer_as_rater": (
        lambda h, r: (h, [r[0], {**r[1], "rater": "olivia"}, r[2]]),
        "line 3: rater 'olivia' is not a rater of the study",
    ),
    "empty_image": (lambda h, r: (h, [r[0], {**r[1], "image": ""}, r[2]]), "line 3: empty image"),
    "unknown_column": (
        lambda h, r: ([*h, "comment"], [{**row, "comment": "ok"} for row in r]),
        "unknown column 'comment'",
    ),
    "missing_item_column": (lambda h, r: ([c for c in h if c != "opacity_left"], r), "missing column 'opacity_left'"),
    "missing_rater_column": (lambda h, r: ([c for c in h if c != "rater"], r), "missing column 'rater'"),
    "repeated_column": (
        lambda h, r: ([*h, "extent_left"], [[*(row[c] for c in h), 1] for row in r]),
        "column 'extent_left' appears twice",
    ),
    "out_of_range_value": (
        lambda h, r: (h, [r[0], {**r[1], "extent_right": 5}, r[2]]),
        "line 3: Geographic extent, right lung: 5 is outside 0-4",
    ),
    "negative_value": (
        lambda h, r: (h, [r[0], r[1], {**r[2], "opacity_left": -1}]),
        "line 4: Opacity, left lung: -1 is outside 0-3",
    ),
    "opacity_above_cohen_maximum": (
        lambda h, r: (h, [r[0], {**r[1], "opacity_right": 4}, r[2]]),
        "line 3: Opacity, right lung: 4 is outside 0-3",
    ),
    "non_integer_value": (
        lambda h, r: (h, [r[0], {**r[1], "extent_left": "2.5"}, r[2]]),
        "line 3: Geographic extent, left lung: '2.5' is not a whole number",
    ),
    "text_value": (
        lambda h, r: (h, [r[0], {**r[1], "extent_left": "two"}, r[2]]),
        "line 3: Geographic extent, left lung: 'two' is not a whole number",
    ),
    "empty_value": (
        lambda h, r: (h, [r[0], {**r[1], "opacity_right": ""}, r[2]]),
        "line 3: Opacity, right lung: a value is required",
    ),
    "short_row": (
        lambda h, r: (h, [r[0], [r[1]["image"], r[1]["rater"], 1], r[2]]),
        "line 3: Opacity, right lung: a value is required",
    ),
    "long_row": (lambda h, r: (h, [r[0], [*(r[1][c] for c in h), "stray"], r[2]]), "line 3: more cells than columns"),
    "duplicate_image_and_rater": (
        lambda h, r: (h, [r[0], r[1], {**r[0], "extent_right": 4}]),
        "line 4: duplicate of line 2 (same image and rater)",
    ),
    "bad_duration": (
        lambda h, r: (h, [r[0], {**r[1], "duration_s": "12 s"}, r[2]]),
        "line 3: duration_s '12 s' is not a number",
    ),
    "negative_duration": (
        lambda h, r: (h, [r[0], {**r[1], "duration_s": "-3"}, r[2]]),
        "line 3: duration_s -3 is outside 0 to 86400 seconds",
    ),
    "day_long_duration": (
        lambda h, r: (h, [r[0], {**r[1], "duration_s": "86400"}, r[2]]),
        "line 3: duration_s 86400 is outside 0 to 86400 seconds",
    ),
    "bad_rated_at": (
        lambda h, r: (h, [r[0], {**r[1], "rated_at": "yesterday"}, r[2]]),
        "line 3: rated_at 'yesterday' is not an ISO 8601 date and time",
    ),
    "impossible_rated_at": (
        lambda h, r: (h, [r[0], {**r[1], "rated_at": "2020-02-30T10:00:00"}, r[2]]),
        "line 3: rated_at '2020-02-30T10:00:00' is not an ISO 8601 date and time",
    ),
    "header_only": (lambda h, r: (h, []), "the file has no rating rows"),
}


@pytest.mark.parametrize(
    "kind, allow_missing_images",
    [
        pytest.param(kind, allow, id=f"{kind}-{'allow_missing' if allow else 'strict'}")
        for kind in BAD_FILES
        for allow in (False, True)
        if not (allow and kind == "unknown_image")  # an unknown image is what --allow-missing-images accepts
    ],
)
def test_import_ratings_refuses_the_whole_file_when_one_row_is_bad(
    demo_study, demo_images, tmp_path, kind, allow_missing_images
):
    spoil, message = BAD_FILES[kind]
    good = [
        cohen_row(demo_images[0], "rater1", duration_s="12.5", rated_at="2020-04-01T10:00:00"),
        cohen_row(demo_images[1], "rater2", duration_s="", rated_at=""),
        cohen_row(demo_images[2], "rater3", duration_s="30", rated_at="2020-04-01T11:00:00+01:00"),
    ]
    # One new image among the good rows: with --allow-missing-images it would create a case.
    good[0]["image"] = "past-study-only.jpg" if allow_missing_images else good[0]["image"]
    header, rows = spoil(list(HEADER), good)
    path = write_csv(tmp_path / "bad.csv", header, rows)
    before = snapshot()

    args = ["import_ratings", "demo", path] + (["--allow-missing-images"] if allow_missing_images else [])
    with pytest.raises(CommandError, match=re.escape(message)) as refused:
        run(*args)

    assert "nothing imported" in str(refused.value)
    assert snapshot() == before


def test_import_ratings_refuses_a_file_that_is_not_utf8(demo_study, demo_images, tmp_path):
    path = tmp_path / "latin1.csv"
    write_csv(path, HEADER, [cohen_row(demo_images[0], "rater1")])
    path.write_bytes(path.read_bytes().replace(b"rater1", b"r\xe9ader1"))
    before = snapshot()

    with pytest.raises(CommandError, match="not UTF-8"):
        run("import_ratings", "demo", str(path))
    assert snapshot() == before


def test_import_ratings_refuses_an_empty_file(demo_study, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    before = snapshot()

    with pytest.raises(CommandError, match="nothing imported.*\n.*missing column 'image'") as refused:
        run("import_ratings", "demo", str(path))
    assert "missing column 'rater'" in str(refused.value)
    assert snapshot() == before


def test_import_ratings_names_every_bad_line_at_once(demo_study, demo_images, tmp_path):
    rows = [cohen_row(image, "rater1") for image in demo_images]
    rows[1]["extent_right"] = 9
    rows[3]["rater"] = "nobody"
    rows[5]["duration_s"] = "slow"
    path = write_csv(tmp_path / "bad.csv", HEADER, rows)

    with pytest.raises(CommandError) as refused:
        run("import_ratings", "demo", path)

    message = str(refused.value)
    assert "line 3: Geographic extent, right lung: 9 is outside 0-4" in message
    assert "line 5: rater 'nobody' is not a rater of the study" in message
    assert "line 7: duration_s 'slow' is not a number" in message
    for good_line in (2, 4, 6):
        assert f"line {good_line}:" not in message
    assert Rating.objects.count() == 0


def test_import_ratings_of_a_missing_file_or_unknown_study_is_a_command_error(demo_study, tmp_path):
    with pytest.raises(CommandError, match="nothere.csv"):
        run("import_ratings", "demo", str(tmp_path / "nothere.csv"))
    path = write_csv(tmp_path / "r.csv", HEADER, [])
    with pytest.raises(CommandError, match="no study with slug 'other'"):
        run("import_ratings", "other", path)


def test_import_ratings_into_a_locked_study_is_refused(demo_study, demo_images, tmp_path):
    path = write_csv(tmp_path / "r.csv", HEADER, [cohen_row(demo_images[0], "rater1")])
    study_lock(study=demo_study)

    with pytest.raises(CommandError, match="locked"):
        run("import_ratings", "demo", path)
    assert Rating.objects.count() == 0


# --- RALE: density only where there is extent ----------------------------------------------------

RALE_HEADER = ["image", "rater", *rubric_get("rale").item_keys]


def rale_row(image: str, rater: str, **values) -> dict:
    base = {
        "ru_extent": 0,
        "ru_density": "",
        "rl_extent": 2,
        "rl_density": 3,
        "lu_extent": 0,
        "lu_density": "",
        "ll_extent": 4,
        "ll_density": 1,
    }
    return {"image": image, "rater": rater, **base, **values}


@pytest.fixture
def rale_study(make_study):
    return make_study(n_cases=2, rubric="rale", slug="rale")


def test_import_ratings_rale_keeps_density_empty_where_extent_is_zero(rale_study, tmp_path):
    path = write_csv(
        tmp_path / "rale.csv",
        RALE_HEADER,
        [rale_row("img-000.png", "rater1"), rale_row("img-001.png", "rater2", ru_extent=1, ru_density=2)],
    )

    run("import_ratings", "rale", path)

    first = Rating.objects.get(assignment__rater__username="rater1")
    assert first.values == {
        "ru_extent": 0,
        "ru_density": None,
        "rl_extent": 2,
        "rl_density": 3,
        "lu_extent": 0,
        "lu_density": None,
        "ll_extent": 4,
        "ll_density": 1,
    }
    assert first.totals == {"rale": 2 * 3 + 4 * 1}
    assert Rating.objects.get(assignment__rater__username="rater2").totals == {"rale": 1 * 2 + 6 + 4}


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"ru_extent": 0, "ru_density": 2},
            "line 3: Density, right upper: must be empty when Extent, right upper is 0",
        ),
        (
            {"ll_extent": 3, "ll_density": ""},
            "line 3: Density, left lower: required when Extent, left lower is above 0",
        ),
        ({"rl_density": 0}, "line 3: Density, right lower: 0 is outside 1-3"),
    ],
)
def test_import_ratings_rale_refuses_a_row_with_density_against_extent(rale_study, tmp_path, values, message):
    path = write_csv(
        tmp_path / "rale.csv",
        RALE_HEADER,
        [rale_row("img-000.png", "rater1"), rale_row("img-001.png", "rater1", **values)],
    )

    with pytest.raises(CommandError, match=re.escape(message)):
        run("import_ratings", "rale", path)
    assert Rating.objects.count() == 0


# --- a past study without its images -------------------------------------------------------------


def test_import_ratings_allow_missing_images_creates_image_less_cases_never_shown_to_raters(
    make_study, personas, client_for, tmp_path
):
    study = make_study(n_cases=0, slug="past")  # open, but without any image
    path = write_csv(
        tmp_path / "past.csv",
        HEADER,
        [cohen_row("past-1.png", "rater1"), cohen_row("past-2.png", "rater1"), cohen_row("past-1.png", "rater2")],
    )

    with pytest.raises(CommandError, match="use --allow-missing-images"):
        run("import_ratings", "past", path)
    assert not Case.objects.exists()

    run("import_ratings", "past", path, "--allow-missing-images")

    cases = list(study.cases.all())
    assert sorted(case.original_filename for case in cases) == ["past-1.png", "past-2.png"]
    assert all(case.image is None for case in cases)
    assert Rating.objects.count() == 3
    # Image-less cases get no further raters when cases are assigned.
    study_assign_cases(study=study)
    assert study.assignments.count() == 3

    rater = personas["rater1"]
    assignments = list(study.assignments.filter(rater=rater))
    assert len(assignments) == 2
    assert assignment_next_for_rater(user=rater, study=study) is None
    assert rater_first_case(user=rater, study=study) is None
    # Not even an unfinished one would be served.
    Assignment.objects.filter(pk=assignments[0].pk).update(completed_at=None, current_rating=None)
    assert assignment_next_for_rater(user=rater, study=study) is None
    reader = client_for("rater1")
    for assignment in assignments:
        assert reader.get(f"/read/{assignment.public_id}/").status_code == 404
        assert reader.get(f"/read/{assignment.public_id}/image.png").status_code == 404


def test_import_images_later_gives_an_image_less_case_its_image(make_study, personas, tmp_path):
    study = make_study(n_cases=0, slug="past")
    run(
        "import_ratings",
        "past",
        write_csv(tmp_path / "past.csv", HEADER, [cohen_row("past-1.png", "rater1")]),
        "--allow-missing-images",
    )
    case = study.cases.get()
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "past-1.png").write_bytes(png_bytes(7))

    output = run("import_images", "past", str(folder))

    assert "imported 1" in output
    case.refresh_from_db()
    assert case.image is not None and study.cases.count() == 1
    # Now the case is shown, and assigned to the other raters too.
    assert rater_first_case(user=personas["rater1"], study=study) is not None
    assert assignment_next_for_rater(user=personas["rater2"], study=study) is not None


# --- revisions -----------------------------------------------------------------------------------


def test_import_ratings_twice_adds_a_second_revision_that_becomes_current(demo_study, demo_images, tmp_path):
    first = write_csv(tmp_path / "first.csv", HEADER, [cohen_row(image, "rater1", er=1) for image in demo_images])
    second = write_csv(tmp_path / "second.csv", HEADER, [cohen_row(image, "rater1", er=4) for image in demo_images])
    run("import_ratings", "demo", first)

    run("import_ratings", "demo", second)

    assert Rating.objects.count() == 12
    for assignment in demo_study.assignments.filter(rater__username="rater1"):
        revisions = list(assignment.ratings.order_by("revision").values_list("revision", "values__extent_right"))
        assert revisions == [(1, 1), (2, 4)]
        assert assignment.current_rating.revision == 2
        assert assignment.current_rating.values["extent_right"] == 4


def test_import_ratings_of_the_same_file_twice_keeps_both_revisions(demo_study, demo_images, tmp_path):
    path = write_csv(tmp_path / "r.csv", HEADER, [cohen_row(demo_images[0], rater) for rater in RATERS])
    run("import_ratings", "demo", path)

    run("import_ratings", "demo", path)

    assert Rating.objects.count() == 6
    for assignment in Assignment.objects.filter(case__original_filename=demo_images[0]):
        assert assignment.current_rating.revision == 2
        assert assignment.ratings.count() == 2


# --- export_ratings ------------------------------------------------------------------------------


def test_export_ratings_writes_a_csv_with_the_documented_columns(demo_study, demo_images, tmp_path):
    run(
        "import_ratings",
        "demo",
        write_csv(
            tmp_path / "r.csv",
            HEADER,
            [
                cohen_row(demo_images[0], "rater1", duration_s="12.25", rated_at="2020-04-01T10:00:00"),
                cohen_row(demo_images[0], "rater2", er=4, el=4, orr=3, ol=3),
            ],
        ),
    )
    flagged = demo_study.assignments.get(case__original_filename=demo_images[1], rater__username="rater3")
    assignment_flag(assignment=flagged, reason="not_assessable")

    rows = list(csv.DictReader(io.StringIO(run("export_ratings", "demo"))))

    assert list(rows[0]) == [
        "image",
        "case_id",
        "rater",
        "status",
        "revision",
        *["extent_right", "opacity_right", "extent_left", "opacity_left"],
        "geographic_extent",
        "opacity",
        "duration_s",
        "rated_at",
        "flag_reason",
        "flag_note",
        "aided",
        "model_version_shown",
        "case_excluded",
        "in_analysis",
    ]
    assert len(rows) == 3  # only completed assignments
    by_rater = {row["rater"]: row for row in rows}
    one = by_rater["rater1"]
    case = demo_study.cases.get(original_filename=demo_images[0])
    assert (one["image"], one["case_id"], one["status"], one["revision"]) == (
        demo_images[0],
        case.public_id,
        "scored",
        "1",
    )
    assert (one["extent_right"], one["extent_left"], one["opacity_right"], one["opacity_left"]) == ("2", "3", "1", "2")
    assert (one["geographic_extent"], one["opacity"]) == ("5", "3")
    assert one["duration_s"] == "12.250"
    assert datetime.fromisoformat(one["rated_at"]) == datetime(2020, 4, 1, 10, 0, tzinfo=UTC)
    assert (
        by_rater["rater2"]["geographic_extent"],
        by_rater["rater2"]["opacity"],
        by_rater["rater2"]["duration_s"],
    ) == ("8", "6", "")
    flag = by_rater["rater3"]
    assert (flag["status"], flag["revision"], flag["flag_reason"], flag["extent_right"], flag["opacity"]) == (
        "flagged",
        "",
        "not_assessable",
        "",
        "",
    )


def test_export_ratings_then_import_into_the_same_study_round_trips(demo_study, demo_images, tmp_path):
    rows = [
        cohen_row(
            image,
            rater,
            er=i % 5,
            el=(i + 2) % 5,
            orr=i % 4,
            ol=(i + 3) % 4,
            duration_s=str(5 + i),
            rated_at=f"2020-04-0{1 + i % 3}T0{i % 10}:15:00",
        )
        for i, (image, rater) in enumerate((image, rater) for image in demo_images for rater in RATERS)
    ]
    run("import_ratings", "demo", write_csv(tmp_path / "r.csv", HEADER, rows))
    flagged = demo_study.assignments.get(case__original_filename=demo_images[0], rater__username="rater2")
    assignment_flag(assignment=flagged, reason="other", note="lateral view, not frontal")
    exported = run("export_ratings", "demo")
    (tmp_path / "export.csv").write_text(exported, encoding="utf-8")

    output = run("import_ratings", "demo", str(tmp_path / "export.csv"))

    assert "imported 17 rating(s)" in output  # the flagged row carries no scores and is skipped
    assert Rating.objects.count() == 18 + 17
    flagged.refresh_from_db()
    assert flagged.is_flagged and flagged.current_rating is None
    again = list(csv.DictReader(io.StringIO(run("export_ratings", "demo"))))
    before = list(csv.DictReader(io.StringIO(exported)))
    for old, new in zip(before, again, strict=True):
        if old["status"] == "scored":
            assert new["revision"] == "2"
        assert {k: v for k, v in new.items() if k != "revision"} == {k: v for k, v in old.items() if k != "revision"}


# --- export_scores -------------------------------------------------------------------------------


def split(total: int) -> tuple[int, int]:
    """A right/left split of a total with each lung within range (extent 0-4 of 8, opacity 0-3 of 6)."""
    return (total + 1) // 2, total // 2


def rows_for_totals(image: str, raters, geographic: list[int], opacity: list[int]) -> list[dict]:
    rows = []
    for rater, geo, opa in zip(raters, geographic, opacity, strict=True):
        (er, el), (orr, ol) = split(geo), split(opa)
        rows.append(cohen_row(image, rater, er=er, el=el, orr=orr, ol=ol))
    return rows


def test_export_scores_writes_rounded_half_up_means_per_case(make_study, tmp_path):
    make_study(n_cases=4, slug="scores")
    rows = [
        *rows_for_totals("img-000.png", RATERS, [2, 3, 3], [0, 0, 1]),  # 8/3, 1/3
        *rows_for_totals("img-001.png", RATERS, [1, 1, 2], [2, 2, 2]),  # 4/3, 2
        *rows_for_totals("img-002.png", RATERS, [8, 8, 8], [6, 6, 5]),  # 8, 17/3
    ]
    run("import_ratings", "scores", write_csv(tmp_path / "r.csv", HEADER, rows))

    output = run("export_scores", "scores", "--format", "covid-severity")

    # img-003 has no rating and is left out.
    assert output == (
        "filename,geographic_mean,opacity_mean,geographic_final,opacity_final,final_source\n"
        "img-000.png,2.7,0.3,2.7,0.3,consensus\n"
        "img-001.png,1.3,2.0,1.3,2.0,consensus\n"
        "img-002.png,8.0,5.7,8.0,5.7,consensus\n"
    )


def test_export_scores_rounds_a_half_up_not_to_even(make_study, tmp_path):
    raters = ("rater1", "rater2", "rater3", "oscar")
    make_study(n_cases=2, slug="four", raters=raters, raters_per_case=4)
    rows = [
        *rows_for_totals("img-000.png", raters, [0, 0, 0, 1], [2, 2, 2, 3]),  # 0.25, 2.25
        *rows_for_totals("img-001.png", raters, [4, 4, 5, 5], [0, 1, 0, 0]),  # 4.5, 0.25
    ]
    run("import_ratings", "four", write_csv(tmp_path / "r.csv", HEADER, rows))

    output = run("export_scores", "four", "--format", "covid-severity")

    assert output.splitlines() == [
        "filename,geographic_mean,opacity_mean,geographic_final,opacity_final,final_source",
        "img-000.png,0.3,2.3,0.3,2.3,consensus",
        "img-001.png,4.5,0.3,4.5,0.3,consensus",
    ]


def test_export_scores_uses_current_ratings_and_leaves_out_flags(make_study, tmp_path):
    study = make_study(n_cases=1, slug="cur")
    run(
        "import_ratings",
        "cur",
        write_csv(tmp_path / "a.csv", HEADER, rows_for_totals("img-000.png", RATERS, [0, 0, 0], [0, 0, 0])),
    )
    run(
        "import_ratings",
        "cur",
        write_csv(tmp_path / "b.csv", HEADER, rows_for_totals("img-000.png", RATERS[:2], [4, 5], [2, 3])),
    )
    assignment_flag(assignment=study.assignments.get(rater__username="rater3"), reason="wrong_view")

    output = run("export_scores", "cur", "--format", "covid-severity")

    assert output.splitlines()[1] == "img-000.png,4.5,2.5,4.5,2.5,consensus"


def test_export_scores_on_a_brixia_study_is_a_command_error_naming_the_rubric(make_study):
    make_study(n_cases=1, rubric="brixia", slug="bx")

    with pytest.raises(CommandError, match="rubric brixia"):
        run("export_scores", "bx", "--format", "covid-severity")


def test_export_scores_refuses_an_unknown_format(make_study):
    make_study(n_cases=1, slug="fmt")

    with pytest.raises(CommandError, match="invalid choice: 'brixia'"):
        run("export_scores", "fmt", "--format", "brixia")


def test_export_scores_and_ratings_of_an_unknown_study_are_command_errors(db):
    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        run("export_scores", "nope", "--format", "covid-severity")
    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        run("export_ratings", "nope")


def totals_for_mean(mean: str, raters: int = 3) -> list[int]:
    """Integer totals of `raters` raters whose mean rounds to the published one-decimal mean."""
    n = round(float(mean) * raters)
    base, extra = divmod(n, raters)
    totals = [base] * (raters - extra) + [base + 1] * extra
    assert f"{sum(totals) / raters + 1e-9:.1f}" == mean
    return totals


def test_cli_end_to_end_reproduces_the_published_covid_severity_scores(personas, tmp_path):
    run("create_study", "demo", "--rubric", "cohen2020", "--raters", "reader-a,reader-b,reader-c", "--owner", "alice")
    run("import_images", "demo", str(DEMO_DIR / "images"), "--metadata", str(DEMO_DIR / "metadata.csv"))
    published = published_scores()
    assert len(published) == 6
    rows = []
    for entry in published:
        rows += rows_for_totals(
            entry["filename"],
            ("reader-a", "reader-b", "reader-c"),
            totals_for_mean(entry["geographic_mean"]),
            totals_for_mean(entry["opacity_mean"]),
        )
    run("import_ratings", "demo", write_csv(tmp_path / "ratings.csv", HEADER, rows))

    output = run("export_scores", "demo", "--format", "covid-severity")

    reproduced = list(csv.DictReader(io.StringIO(output)))
    assert output.splitlines()[0].startswith("filename,geographic_mean,opacity_mean,")
    paper_columns = [{key: row[key] for key in ("filename", "geographic_mean", "opacity_mean")} for row in reproduced]
    assert sorted(paper_columns, key=lambda row: row["filename"]) == sorted(published, key=lambda row: row["filename"])
    # e.g. 4.3 comes from totals 4, 4 and 5.
    assert totals_for_mean("4.3") == [4, 4, 5]
