"""A saliency map's file goes with its row (a case removed, a study deleted), once that is committed."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from scoring.models import SaliencyMap


@receiver(post_delete, sender=SaliencyMap)
def saliency_file_delete(sender, instance: SaliencyMap, **kwargs) -> None:
    if instance.image.name:
        name, storage = instance.image.name, instance.image.storage
        transaction.on_commit(lambda: storage.delete(name))
