"""Experiments on a Dask cluster: the client (a LocalCluster or a scheduler) and real calls
as tasks."""
