"""The app of ``app.create_app()`` plus the bench-only page of ``bench/routed_page.py``.

``bench/tenancy.py`` serves this module with gunicorn, with the environment
(database, Redis, SMTP, secrets) already set.
"""

from app import create_app
from bench.routed_page import bench

app = create_app()
app.register_blueprint(bench)
