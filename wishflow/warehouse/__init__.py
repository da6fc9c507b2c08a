"""The warehouse: schema, migrations, and the writers and readers of each table."""
