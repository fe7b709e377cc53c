from django.core.management.base import CommandError

from annotation.models import Study


def study_by_slug(slug: str) -> Study:
    try:
        return Study.objects.get(slug=slug)
    except Study.DoesNotExist:
        raise CommandError(f"no study with slug {slug!r}") from None
