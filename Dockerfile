# Airflow 3.3 image with airflow-provider-contact-center (and its [s3] extra) installed.
# Used by docker-compose.yaml for every Airflow service and for the vendor sandbox.
#
# Pinning apache-airflow to the image's own version (AIRFLOW_VERSION is set by the base
# image) stops pip from up- or downgrading Airflow while resolving our dependencies:
# https://airflow.apache.org/docs/docker-stack/build.html
FROM apache/airflow:3.3.2

USER airflow
WORKDIR /tmp/cc-provider
COPY --chown=airflow:0 pyproject.toml README.md ./
COPY --chown=airflow:0 provider/ ./provider/
# provider/contact_center_provider/templates is a symlink into include/templates.
COPY --chown=airflow:0 include/ ./include/
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" ".[s3]"
WORKDIR /opt/airflow
