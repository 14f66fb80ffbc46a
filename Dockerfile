# Hugging Face Spaces (sdk: docker, app_port: 8501). Research use only.
FROM python:3.11-slim
RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app
COPY --chown=user requirements.txt .
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
COPY --chown=user . .
USER user
ENV STREAMLIT_BROWSER_GATHER_USAGE_STATS=false MGMT_DATA_DIR=/home/user/app/data
EXPOSE 8501
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
