"""Celery's queues beyond the default one (``celery``), named in one place.

``photos``: making uploaded photos' display images (``app.journal.photo_processing``).
A worker of its own takes it (``app.devstack.photo_worker_command``, the
``learning-journals-photos`` unit), so a run of uploads never holds mail or jobs up.
"""

PHOTO_QUEUE = "photos"
