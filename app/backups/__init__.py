"""Nightly encrypted backups of the whole database and the media files, verified and rotated.

- ``making``: ``make_backup`` (pg_dump of a snapshot, media tar, manifest, all encrypted);
- ``counting``, ``setting_data``: the dump's rows counted as it streams, and each
  setting's rows kept in a file of its own (what a one-setting restore reads);
- ``crypto``: AES-256-GCM streamed in chunks, keyed by ``BACKUP_KEY``;
- ``store``: the folders under ``BACKUP_DIR``, their verification, rotation (30 days);
- ``restoring``: verification in a scratch database, restore of everything or one setting,
  each followed by the erasure ledger's replay;
- ``operations``: the nightly job (backup, verify, rotate) and the age of the newest
  verified backup (for ``/readyz``);
- ``cli``: ``flask --app wsgi backups run|list|verify|restore``.
"""
