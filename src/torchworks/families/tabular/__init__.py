"""What the table tasks (tabular prediction, anomaly detection) share: reading a table as a stream of
Arrow record batches, inferring what each column is, encoding columns into model inputs with the
statistics of the training rows, and the network front end that turns those inputs into feature tokens.

Why pyarrow rather than polars or DuckDB: it is already a dependency (pandas and Parquet need it), it
reads CSV, TSV, JSON lines and Parquet as record batches of a chosen size without loading the file, its
compute kernels cast and count per batch without a copy into Python objects, and a batch becomes numpy
arrays without a copy. polars would add a second dataframe engine for the same work, and DuckDB a SQL
layer the tasks do not need.
"""
