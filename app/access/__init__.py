"""Who may do what, decided in one place (``policy``), and the rows each person may reach
(``scopes``). Pages, operations and templates ask here; nothing else decides."""
