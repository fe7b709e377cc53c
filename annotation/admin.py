from django.contrib import admin

from annotation.models import Assignment, Case, Image, ImportJob, Rating, Study, StudyMembership


class MembershipInline(admin.TabularInline):
    model = StudyMembership
    extra = 0


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "rubric", "raters_per_case", "status", "created_at"]
    list_filter = ["status", "rubric"]
    inlines = [MembershipInline]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["public_id", "study", "original_filename", "patient_id"]
    list_filter = ["study"]
    search_fields = ["original_filename", "patient_id", "public_id"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["public_id", "study", "case", "rater", "completed_at", "flag_reason"]
    list_filter = ["study"]
    raw_id_fields = ["case", "current_rating"]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    # Append-only: revisions are read here, never edited.
    list_display = ["assignment", "revision", "totals", "reading_time_s", "source", "created_at"]
    readonly_fields = [f.name for f in Rating._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


admin.site.register(Image)
admin.site.register(ImportJob)
