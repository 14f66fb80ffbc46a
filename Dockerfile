# The Hugging Face Space (README front matter: sdk: docker, app_port: 8501). Research use only.
# tests/test_deployment.py replays this file without Docker: its ARGs and ENV, each `RUN pip install`, each COPY, the
# CMD and the HEALTHCHECK. Keep one instruction per line (backslash continuations are fine).
FROM python:3.11-slim

# torch from PyTorch's CPU wheel index: the PyPI wheel of torch pulls several GB of CUDA libraries that a Space
# without a GPU never uses (its 2.13.0+cpu satisfies requirements.txt's torch==2.13.0). pip reads this variable
# itself; as an ARG it exists only while building. A build that cannot reach the index passes
# --build-arg PIP_EXTRA_INDEX_URL= (the replay test leaves it out: only package mirrors are reachable there).
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu

# Spaces run the container as uid 1000.
RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=user app.py ./
COPY --chown=user .streamlit/ .streamlit/
COPY --chown=user core/ core/
COPY --chown=user pages/ pages/
COPY --chown=user weights/ weights/
RUN mkdir -p data && chown user:user . data
USER user

# HF_HUB_OFFLINE stays unset, so MGMT_MODEL_REPO (a Space variable) can name a Hub model to download.
# MGMT_PERSISTENT_DIR: where a Space's persistent storage is mounted (the start command checks it is there).
ENV HOME=/home/user PYTHONUNBUFFERED=1 STREAMLIT_BROWSER_GATHER_USAGE_STATS=false MGMT_PERSISTENT_DIR=/data
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"

# Data (the DuckDB log MGMT_DB, the salt of study hashes, which must persist with it, and example studies) goes to
# MGMT_PERSISTENT_DIR/mgmt when that folder is there and writable (a Space with persistent storage; downloaded
# models are cached there too), else to data/ beside the app, which a restart empties. An explicit MGMT_DATA_DIR
# wins.
# --server.maxUploadSize (MB): an RSNA-MICCAI study zipped is about 510 MB; 1024 leaves twice that, as the REST
# API's MGMT_MAX_UPLOAD_MB default does.
# The Space shows the app in an iframe on huggingface.co, where browsers refuse Streamlit's SameSite=Lax XSRF cookie,
# so st.file_uploader gets "AxiosError: Request failed with status code 403" (huggingface/huggingface_hub#1496,
# streamlit/streamlit#9397). XSRF protection is off here (not in .streamlit/config.toml, which local runs read);
# with st.login configured Streamlit turns it back on, and xsrfCookieSameSite=none then lets the cookie reach the
# iframe (Streamlit sets Secure with it; Spaces serve HTTPS). CORS protection stays on: the page, its uploads and
# its websocket all use the Space's own origin.
CMD if [ -z "${MGMT_DATA_DIR:-}" ] && [ -d "$MGMT_PERSISTENT_DIR" ] && [ -w "$MGMT_PERSISTENT_DIR" ]; then \
        export MGMT_DATA_DIR="$MGMT_PERSISTENT_DIR/mgmt" HF_HOME="${HF_HOME:-$MGMT_PERSISTENT_DIR/huggingface}"; \
    fi; \
    echo "MGMT data folder: ${MGMT_DATA_DIR:-$PWD/data (not persistent)}"; \
    exec streamlit run app.py --server.port 8501 --server.address 0.0.0.0 --server.maxUploadSize 1024 \
        --server.enableXsrfProtection false --server.xsrfCookieSameSite none
