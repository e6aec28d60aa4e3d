"""The built-in training tasks, one module each (listed in :data:`innverse.train.task.BUILTIN_TASKS`)."""
