import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Import every view now, as the server process starts, not in the first request it answers: the
# views bring numpy, scipy and pandas (~3 s of CPU), which made each fresh worker's first
# requests take seconds while others queued behind it (bench/load_ratings.py).
get_resolver().resolve("/")  # loads the URL configuration and so every view module
# What the imports made lives as long as the process: moved out of the cycle collector's reach, so
# that its full passes no longer walk it again and again (Python's gc.freeze, for servers).
gc.freeze()
