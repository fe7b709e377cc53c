from django import forms
from django.core.validators import validate_slug

from accounts.validators import MAX_LENGTH, validate_member_name
from annotation.analysis_plan import PRIMARY_METRIC_CHOICES
from annotation.models import Assignment, Study, StudyMembership
from annotation.permissions import GIVEN_ROLES
from annotation.rubrics import RUBRIC_CHOICES
from annotation.services.studies import DESIGN_FIXED_REASON, study_settings_fixed


class StudyForm(forms.Form):
    title = forms.CharField(max_length=200)
    slug = forms.CharField(max_length=64, validators=[validate_slug], help_text="Short name used in URLs and the CLI.")
    rubric = forms.ChoiceField(choices=RUBRIC_CHOICES)
    raters_per_case = forms.IntegerField(min_value=1, max_value=50, initial=3)

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].lower()
        if Study.objects.filter(slug=slug).exists():
            raise forms.ValidationError("A study with this short name already exists.")
        return slug


class StudySettingsForm(forms.Form):
    title = forms.CharField(max_length=200)
    rubric = forms.ChoiceField(choices=RUBRIC_CHOICES)
    raters_per_case = forms.IntegerField(min_value=1, max_value=50)
    consensus_method = forms.ChoiceField(choices=Study.Consensus.choices)
    adjudication_range = forms.IntegerField(
        min_value=1,
        max_value=48,
        help_text="Cases whose raters' totals span this many points or more go to adjudication.",
    )
    bootstrap_raters = forms.ChoiceField(
        choices=Study.BootstrapRaters.choices,
        required=False,
        label="Confidence intervals generalise to",
        help_text="Resampling the raters too (two-way bootstrap) gives wider intervals that hold for other readers "
        "like these; with few raters they still fall short of 95% (docs/overview.md). May change at any time.",
    )
    model_assistance = forms.ChoiceField(choices=Study.ModelAssistance.choices)
    crossover_gap = forms.IntegerField(
        min_value=0,
        max_value=1000,
        help_text="Crossover: at least this many other cases between a rater's two reads of a case.",
    )
    queue_order = forms.ChoiceField(
        choices=Study.QueueOrder.choices,
        required=False,
        label="Order of each rater's queue",
        help_text="By the model (model assistance shown or prelabel only): the least certain pre-scores, or the "
        "cases raters are expected to disagree on most, first. A blinded study keeps the seeded random order.",
    )
    # Not required: a form posted without them (an older page) leaves them as they are.
    repeat_fraction = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label="Repeat reads (fraction of each rater's cases)",
        help_text="Intra-rater reliability: this fraction of each rater's cases is read by them a second "
        "time, unannounced, after the washout below. 0: none. Model assistance none or shown only.",
    )
    repeat_washout_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=3650,
        label="Repeat washout (days)",
        help_text="Days after the first read.",
    )
    repeat_washout_cases = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=3650,
        label="Repeat washout (cases)",
        help_text="Other reads after the first read (as far as the rater's queue allows).",
    )
    primary_metric = forms.ChoiceField(
        choices=PRIMARY_METRIC_CHOICES,
        required=False,
        label="Pre-specified primary metric",
        help_text="Chosen before any rating and reported first in the agreement report; fixed once the study opens.",
    )
    primary_score = forms.ChoiceField(
        choices=[("", "None pre-specified")],  # the rubric's totals: __init__
        required=False,
        label="Primary metric applies to",
    )
    auto_promote = forms.BooleanField(
        required=False, label="Promote a retrained model automatically when it is better on the same splits"
    )
    burned_in_annotation = forms.ChoiceField(
        choices=Study.BurnedIn.choices, label="DICOM images with text burned into the pixels", required=False
    )
    adjudication_blind = forms.BooleanField(
        required=False,
        label="Blind adjudication: adjudicators see raters as Rater A, B, ... and no filename",
        help_text="May change at any time.",
    )

    def __init__(self, *args, study: Study, **kwargs):
        # Starts from the study's values; the design is shown but fixed once the study opens, with
        # the reason, and a disabled field keeps the study's value whatever is posted.
        super().__init__(*args, initial={name: getattr(study, name) for name in self.base_fields}, **kwargs)
        totals = [(total.key, total.label) for total in study.rubric_definition.totals]
        self.fields["primary_score"].choices = [("", "None pre-specified"), *totals]
        for name in study_settings_fixed(study):
            self.fields[name].disabled = True
            self.fields[name].help_text = f"{DESIGN_FIXED_REASON[0].upper()}{DESIGN_FIXED_REASON[1:]}."

    def clean_burned_in_annotation(self) -> str | None:
        return self.cleaned_data["burned_in_annotation"] or None  # left out: unchanged

    def clean_bootstrap_raters(self) -> str | None:
        return self.cleaned_data["bootstrap_raters"] or None  # left out: unchanged

    def clean_queue_order(self) -> str | None:
        return self.cleaned_data["queue_order"] or None  # left out: unchanged


class MemberForm(forms.Form):
    # The same rule as the API's and the commands' (accounts/validators.py).
    username = forms.CharField(max_length=MAX_LENGTH, validators=[validate_member_name])
    role = forms.ChoiceField(choices=GIVEN_ROLES, initial=StudyMembership.Role.RATER)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that accepts several files (Django's documented pattern)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    files = MultipleFileField(
        widget=MultipleFileInput(attrs={"multiple": True, "accept": ".png,.jpg,.jpeg,.dcm,.zip,.csv"}),
        help_text=(
            "PNG, JPEG, DICOM or zip archives. To attach patient data, add a .csv with a filename column (the "
            "image's file name), optionally patientid (or patient_id) and any other columns; every column is "
            "kept, for owners and adjudicators only, never shown to raters."
        ),
    )


class DicomwebImportForm(forms.Form):
    """What to fetch from the archive of the settings: UIDs or accession numbers (one or more, separated by
    spaces, commas or lines), or a query; at least one of them."""

    study_uids = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 2}))
    series_uids = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 2}))
    accession_numbers = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 2}))
    modality = forms.ChoiceField(
        required=False, choices=[("", "CR and DX"), ("CR", "CR only"), ("DX", "DX only")], initial=""
    )
    patient_id = forms.CharField(required=False, max_length=64)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def selection_fields(self) -> dict:
        """The cleaned form as annotation.services.dicomweb.Selection's fields (the query as key=value pairs)."""
        data = self.cleaned_data
        query = []
        if data["modality"]:
            query.append(f"modality={data['modality']}")
        if data["patient_id"].strip():
            query.append(f"patient_id={data['patient_id'].strip()}")
        if data["date_from"] or data["date_to"]:
            start, end = (day.strftime("%Y%m%d") if day else "" for day in (data["date_from"], data["date_to"]))
            query.append(f"study_date={start}-{end}")
        return {
            "study_uids": tuple(_words(data["study_uids"])),
            "series_uids": tuple(_words(data["series_uids"])),
            "accession_numbers": tuple(_words(data["accession_numbers"])),
            "query": query,
        }


def _words(text: str) -> list[str]:
    return [word for word in text.replace(",", " ").split() if word]


class FlagForm(forms.Form):
    reason = forms.ChoiceField(choices=Assignment.FlagReason.choices)
    note = forms.CharField(max_length=500, required=False)


class RatingsUploadForm(forms.Form):
    csv = forms.FileField(help_text="image, rater, one column per rubric item; optional duration_s, rated_at.")
    allow_missing_images = forms.BooleanField(required=False)
