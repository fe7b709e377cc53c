import secrets

from django.db import migrations, models

import annotation.models


def fill(apps, schema_editor):
    """A public id for every existing membership; was_adjudicator for whoever holds or used the right."""
    Membership = apps.get_model("annotation", "StudyMembership")
    Adjudication = apps.get_model("annotation", "Adjudication")
    for membership in Membership.objects.all():
        membership.public_id = secrets.token_urlsafe(12)
        membership.was_adjudicator = membership.can_adjudicate or Adjudication.objects.filter(
            case__study_id=membership.study_id, adjudicator_id=membership.user_id
        ).exists()
        membership.save(update_fields=["public_id", "was_adjudicator"])


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0007_job_lifecycle_fields"),
    ]

    operations = [
        migrations.AddField(
            model_name="studymembership",
            name="public_id",
            field=models.CharField(max_length=32, null=True),
        ),
        migrations.AddField(
            model_name="studymembership",
            name="was_adjudicator",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="studymembership",
            name="public_id",
            field=models.CharField(default=annotation.models.new_public_id, max_length=32, unique=True),
        ),
    ]
