from django.contrib import admin

from accounts.models import OidcIdentity


@admin.register(OidcIdentity)
class OidcIdentityAdmin(admin.ModelAdmin):
    list_display = ["user", "subject", "issuer", "created_at", "last_sign_in_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email", "subject", "issuer"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at", "last_sign_in_at"]
