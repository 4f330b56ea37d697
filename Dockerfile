# Mend in a container: `docker build -t mend .` then
# `docker run --env-file .env -p 3000:3000 -v mend-data:/var/lib/mend/data mend`.
# (CI does not build this image: base images cannot be pulled where it runs.)

# -- 1. build: wheels of Mend and of its pinned dependencies --------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.txt ./
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY standin standin
COPY data data
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# -- 2. run: the wheels installed, nothing else, as a user that is not root ------------------
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 mend \
 && mkdir -p /var/lib/mend/data && chown -R mend:mend /var/lib/mend
COPY --from=build /wheels /wheels
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --no-index --find-links /wheels -r /tmp/requirements.txt mend \
 && rm -rf /wheels /tmp/requirements.txt
USER mend
# The SQLite database is data/mend.db under the working directory: keep it on a volume.
WORKDIR /var/lib/mend
VOLUME ["/var/lib/mend/data"]
ENV PORT=3000 MEND_LOG_FORMAT=json PYTHONUNBUFFERED=1
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"
ENTRYPOINT ["mend"]
