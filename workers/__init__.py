"""Background work: the Celery app, the operator's jobs and the one beat schedule.

- ``workers.celery_app``: ``celery_init_app(app)``, Flask's own pattern; every task
  runs inside an app context with the same config, database and mail as requests.
- ``workers.jobs``: the registry of named jobs and the ``run_job`` task that runs
  one of them under a Redis lock.
- ``workers.schedule``: when each job runs (the beat schedule, in one place).
- ``workers.cli``: ``flask --app wsgi jobs list`` and ``jobs run NAME``.

``celery -A celery_worker worker`` and ``celery -A celery_worker beat`` start them.
"""
