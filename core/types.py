"""Types that service and selector signatures share."""

from django.contrib.auth.models import AbstractUser, AnonymousUser

# A user of the site (settings.AUTH_USER_MODEL, Django's own): an owner, a rater, an actor.
User = AbstractUser
# Whoever made the request: `request.user`, which is anonymous until they log in.
Visitor = AbstractUser | AnonymousUser
