"""REST routers: thin handlers that call the engine and return its dicts."""
