"""A class graded as a batch: the gradebook (SQLite), the executors that run submissions (local
worker processes, Dask), the progress shown, and the batch's data flow (``grade``)."""
