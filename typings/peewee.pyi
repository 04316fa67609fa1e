# peewee ships stubs (peewee-stubs) that type the rows of `.tuples()` queries as model
# instances and lack foreign keys' `<name>_id` accessors, so every query that reads tuples
# would need a cast. codexbot reads peewee as untyped instead; this file takes precedence.
from typing import Any

def __getattr__(name: str) -> Any: ...
