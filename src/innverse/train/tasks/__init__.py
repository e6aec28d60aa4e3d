"""The built-in training tasks; each line registers one ``innverse train NAME`` (imported lazily)."""

from innverse.train.task import register_task

register_task("winnet", lambda: __import__("innverse.train.tasks.winnet", fromlist=["X"]).WINNetTask)
register_task("nenet", lambda: __import__("innverse.train.tasks.nenet", fromlist=["X"]).NENetTask)
