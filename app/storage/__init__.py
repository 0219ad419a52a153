"""Files on disk kept in step with the database: the durable queue of files to delete.

``schedule_file_deletion`` records files in the setting's ``file_deletions`` table
inside the transaction that makes them garbage; ``drain_file_deletions`` removes
them after that transaction has committed (a Celery task sent at commit, and the
``file-deletions`` job as a safety net). See ``app.storage.deletions``.
"""
