"""Users in the admin, every change on the account trail (never deleted: made inactive); the trail
itself read-only."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.models import AccountEvent
from accounts.services import account_event_record
from core.admin import ReadOnlyAdmin

User = get_user_model()
# Names of the fields that changed, never their values: one of them may be a password hash.
admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(UserAdmin):
    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        fields = sorted(set(form.changed_data) - {"password1", "password2"})
        if change and fields or not change:
            account_event_record(
                actor=request.user,
                action=AccountEvent.Action.ADMIN_CHANGE,
                target=obj.username,
                details={"change": "changed" if change else "added", "fields": fields},
            )

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting a user would delete their assignments and ratings: make them inactive instead.
        return False


@admin.register(AccountEvent)
class AccountEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target"]
    list_filter = ["action"]
    search_fields = ["target"]
