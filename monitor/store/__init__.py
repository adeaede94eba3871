"""The database: opening, migrating, short write transactions, leases, retention, export."""
