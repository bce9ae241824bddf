# Build a wheel in one stage, install it (no dev dependencies) into a slim runtime in another.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY seeds ./seeds
# with psycopg, so the same image runs on SQLite or on PostgreSQL (docker-compose.yml)
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NEWSBOT_DB=/data/newsbot.db
RUN useradd --create-home --uid 10001 newsbot \
    && mkdir /data && chown newsbot:newsbot /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config/newsbot.example.toml /etc/newsbot/newsbot.example.toml
USER 10001:10001
VOLUME ["/data"]
# Healthy means the process's store answers: the store opens and counts its articles.
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["newsbot", "check"]
CMD ["newsbot", "run"]
