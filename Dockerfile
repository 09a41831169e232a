# termsvc API image: the package and its command, run as an unprivileged user.
#   docker build -t termsvc .
#   docker run -e TERMSVC_DATABASE_URL=postgresql://user:pass@host/terms -p 8080:8080 termsvc
# The store's schema is created or migrated by `termsvc db upgrade` (compose.yaml runs it once, before the
# API processes start); `termsvc serve` would otherwise do it itself on first start.

FROM python:3.11-slim AS build
WORKDIR /src
# the package's sources only (see .dockerignore); loaders/, valuesets/ and cli/ are linked under termsvc/
COPY pyproject.toml README.md ./
COPY termsvc ./termsvc
COPY loaders ./loaders
COPY valuesets ./valuesets
COPY cli ./cli
RUN python -m venv /opt/termsvc \
 && /opt/termsvc/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/termsvc/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --create-home --uid 10001 termsvc
COPY --from=build /opt/termsvc /opt/termsvc
COPY data-samples /opt/termsvc/data-samples
ENV PATH=/opt/termsvc/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TERMSVC_HOST=0.0.0.0 \
    TERMSVC_PORT=8080
USER termsvc
WORKDIR /home/termsvc
EXPOSE 8080
# liveness: the process answers (/readyz also checks the store and its schema)
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["termsvc"]
CMD ["serve"]
