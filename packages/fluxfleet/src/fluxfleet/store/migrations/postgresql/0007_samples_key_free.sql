-- Version 7 dropped the samples' primary key in DuckDB (its 0007). PostgreSQL keeps its
-- (device, seq, time) key: several ingestors write one database, and only the key keeps
-- them from storing a sample twice. Nothing changes here; the file keeps both backends'
-- schema versions in step.
SELECT 1;
