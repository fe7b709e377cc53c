from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from accounts.validators import validate_member_name
from annotation.analysis_plan import PRIMARY_METRICS
from annotation.models import Study, StudyMembership
from annotation.permissions import may_create_studies
from annotation.rubrics import RUBRICS
from annotation.services import member_add, study_create, study_update
from annotation.services.studies import REPEAT_SETTINGS, StudyStateError


class Command(BaseCommand):
    help = (
        "Create a reader study owned by a coordinator. Raters who have no account yet are invited: "
        "their set-password links are printed (and e-mailed when the name is an address)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--rubric", required=True, choices=sorted(RUBRICS))
        parser.add_argument("--title", default="")
        parser.add_argument("--raters", default="", help="comma-separated usernames or e-mail addresses")
        parser.add_argument("--raters-per-case", type=int, default=3)
        parser.add_argument("--owner", default=None, help="username of a coordinator (default: the first superuser)")
        parser.add_argument(
            "--model-assistance",
            default=Study.ModelAssistance.NONE,
            choices=Study.ModelAssistance.values,
            help="none (default), shown (raters see the model's pre-score), crossover (each case read "
            "unaided and aided; import_ratings takes an `aided` column of 0 or 1) or prelabel (raters start "
            "from the model's scores and confirm or correct them)",
        )
        parser.add_argument(
            "--queue-order",
            default=Study.QueueOrder.RANDOM,
            choices=Study.QueueOrder.values,
            help="each rater's queue: random (default; always in a blinded study), or, with model assistance "
            "shown or prelabel, uncertainty or disagreement (by the active model's pre-scores)",
        )
        parser.add_argument(
            "--repeat-fraction",
            type=float,
            default=0.0,
            help="intra-rater reliability: the fraction of each rater's cases they read a second time, "
            "unannounced (0 to 1; default 0: none; model assistance none or shown)",
        )
        parser.add_argument(
            "--primary-metric",
            default="",
            help=f"the pre-specified primary metric, reported first: one of {', '.join(PRIMARY_METRICS)}",
        )
        parser.add_argument("--primary-score", default="", help="the rubric total the primary metric applies to")
        parser.add_argument("--repeat-washout-days", type=int, default=14, help="repeat reads: days after the first")
        parser.add_argument(
            "--repeat-washout-cases", type=int, default=20, help="repeat reads: other reads after the first"
        )

    @transaction.atomic
    def handle(self, *args, slug, rubric, title, raters, raters_per_case, owner, model_assistance, **options):
        repeat = {name: options[name] for name in REPEAT_SETTINGS}
        primary = {"primary_metric": options["primary_metric"], "primary_score": options["primary_score"]}
        if slug != slugify(slug):
            raise CommandError(f"{slug!r} is not a slug (lowercase letters, digits, hyphens), e.g. {slugify(slug)!r}")
        if Study.objects.filter(slug=slug).exists():
            raise CommandError(f"a study with slug {slug!r} already exists")
        if raters_per_case < 1:
            raise CommandError("--raters-per-case must be at least 1")
        names = [name.strip() for name in raters.split(",") if name.strip()]
        for name in names:
            try:
                validate_member_name(name)
            except ValidationError as exc:
                raise CommandError(f"--raters: {name!r}: {'; '.join(exc.messages)}") from None
        queue_order = options["queue_order"]
        owner_user = self._owner(owner)
        study = study_create(owner=owner_user, slug=slug, title=title, rubric=rubric, raters_per_case=raters_per_case)
        try:  # the design, checked by the service as on the page; refused, the atomic handle writes nothing
            study_update(
                study=study,
                title=study.title,
                rubric=rubric,
                raters_per_case=raters_per_case,
                model_assistance=model_assistance,
                queue_order=queue_order,
                actor=owner_user,
                **repeat,
                **primary,
            )
        except StudyStateError as exc:
            raise CommandError(str(exc)) from None
        for name in names:
            added = member_add(
                study=study, name=name, role=StudyMembership.Role.RATER, actor=None, base_url=settings.SITE_URL
            )
            if added.invitation_link:
                self.stdout.write(f"invited {name}: they set their password at {added.invitation_link}")
        count = f"{len(names)} rater(s)"
        design = rubric if model_assistance == Study.ModelAssistance.NONE else f"{rubric}, {model_assistance}"
        if queue_order != Study.QueueOrder.RANDOM:
            design += f", queue by {queue_order}"
        if repeat["repeat_fraction"]:
            design += f", repeat reads {repeat['repeat_fraction']:g}"
        if primary["primary_metric"]:
            design += f", primary {primary['primary_metric']} of {primary['primary_score']}"
        self.stdout.write(self.style.SUCCESS(f"created study {slug} ({design}), owner {owner_user.username}, {count}"))

    def _owner(self, username: str | None):
        User = get_user_model()
        if username is None:
            user = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
            if user is None:
                raise CommandError("give --owner USER (there is no superuser to default to)")
            return user
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}: the owner must have an account")
        if not may_create_studies(user):
            raise CommandError(f"{username} is not a coordinator: `manage.py coordinator {username}` first")
        return user
