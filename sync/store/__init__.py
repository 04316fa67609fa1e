"""The database: the tables (`models.py`), opening a database by URL and migrating it
(`database.py`, `migrations.py`), claims that make something happen once across replicas
(`claims.py`), and deleting what retention no longer keeps (`retention.py`). Nothing here
knows what the rows mean to people."""
