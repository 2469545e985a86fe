# The web image: Django under gunicorn, with the offline embedding model baked in.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PIP_NO_CACHE_DIR=1 \
    MOVIESITE_ENV_FILE=

WORKDIR /app
COPY requirements.txt .
# CPU-only torch first, from PyTorch's CPU index, so the image does not carry CUDA libraries.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install -r requirements.txt

COPY . .
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret-0123456789012345678901234 DATABASE_URL=postgres://unused/unused python manage.py collectstatic --no-input
# The ONNX query encoder, exported from the packaged model into /app/.cache/onnx (read-only for the server's user).
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret-0123456789012345678901234 DATABASE_URL=postgres://unused/unused python manage.py build_query_encoder

RUN useradd --create-home moviesite
USER moviesite
EXPOSE 8000
ENV HOST=0.0.0.0 PORT=8000
CMD ["gunicorn", "-c", "moviesite/gunicorn.conf.py", "moviesite.wsgi"]
