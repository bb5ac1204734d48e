# One image for every role; compose.yaml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 AIGC_VAR_DIR=/data/var AIGC_MODELS_DIR=/data/models
WORKDIR /app
COPY pyproject.toml README.md ./
COPY aigc_platform aigc_platform
COPY apps apps
COPY workers workers
COPY templates templates
COPY corpus corpus
COPY manage.py ./
# TORCH_INDEX: a wheel index for the torch build to use (CUDA for GPU hosts, CPU otherwise).
ARG TORCH_INDEX=""
RUN pip install --no-cache-dir ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} . \
 && DJANGO_DEBUG=false DJANGO_SECRET_KEY=build AIGC_ENCRYPTION_KEYS=MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA= \
    python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "aigc_platform.asgi:application"]
