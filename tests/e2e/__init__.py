"""End-to-end tests: a real multi-process Airflow on PostgreSQL against the vendor sandbox."""
