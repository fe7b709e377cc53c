"""The admin: studies and memberships may be changed there (every change on the study's audit
trail); what raters recorded (ratings, their revisions, flags, adjudications) and the trail itself
are read-only, and nothing that holds ratings can be deleted from here."""

from django.contrib import admin
from django.forms.models import model_to_dict

from annotation.audit import Action, audit_record
from annotation.models import (
    Adjudication,
    Assignment,
    AuditEvent,
    Case,
    Image,
    ImportJob,
    Rating,
    Study,
    StudyMembership,
)
from core.admin import ReadOnlyAdmin


class MembershipInline(admin.TabularInline):
    model = StudyMembership
    extra = 0
    fields = ["user", "role", "can_adjudicate", "was_adjudicator", "public_id", "created_at"]
    readonly_fields = ["was_adjudicator", "public_id", "created_at"]
    raw_id_fields = ["user"]


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "rubric", "raters_per_case", "status", "created_at"]
    list_filter = ["status", "rubric"]
    inlines = [MembershipInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # it would delete every rating of the study

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            changes = {name: str(form.cleaned_data.get(name)) for name in form.changed_data}
            audit_record(study=obj, actor=request.user, action=Action.ADMIN_CHANGE, target=obj.slug, details=changes)

    def save_formset(self, request, form, formset, change) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is not StudyMembership:
            return
        for membership in formset.new_objects:
            self._record(request, membership, "added", _fields(membership))
        for membership, fields in formset.changed_objects:
            self._record(request, membership, "changed", _fields(membership, fields))
        for membership in formset.deleted_objects:
            self._record(request, membership, "removed", _fields(membership))

    @staticmethod
    def _record(request, membership: StudyMembership, change: str, fields: dict) -> None:
        audit_record(
            study=membership.study_id,
            actor=request.user,
            action=Action.ADMIN_CHANGE,
            target=membership.user.username,
            details={"membership": change, **fields},
        )


def _fields(membership: StudyMembership, names: list[str] | None = None) -> dict:
    values = model_to_dict(membership, fields=names or ["role", "can_adjudicate"])
    return {name: str(value) for name, value in values.items()}


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["public_id", "study", "original_filename", "patient_id"]
    list_filter = ["study"]
    search_fields = ["original_filename", "patient_id", "public_id"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # it would delete the case's ratings


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "study", "case", "rater", "completed_at", "flag_reason"]
    list_filter = ["study"]


@admin.register(Rating)
class RatingAdmin(ReadOnlyAdmin):
    list_display = ["assignment", "revision", "totals", "reading_time_s", "source", "created_at"]


@admin.register(Adjudication)
class AdjudicationAdmin(ReadOnlyAdmin):
    list_display = ["case", "revision", "adjudicator", "totals", "created_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "study", "actor", "action", "target"]
    list_filter = ["action", "study"]


admin.site.register(Image)
admin.site.register(ImportJob)
