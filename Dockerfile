# qingqun: the 清群 bot. `docker run -v qingqun-data:/data -e QINGQUN_GATEWAY_TOKEN=… image` runs it live;
# any other `qingqun` command can be given instead (e.g. `demo --out /data/demo`).
#
# Two stages: the build stage installs the project into a virtualenv, the runtime stage copies
# only that virtualenv, so the source tree and build tools stay out of the final image.
# Every dependency ships manylinux wheels (or is pure Python), so no compiler or apt packages.

FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY policies/ policies/
COPY storage/ storage/
RUN pip install --no-cache-dir .


FROM python:3.11-slim

LABEL org.opencontainers.image.title="qingqun" \
      org.opencontainers.image.description="清群: a WeChat bot that audits work-group sprawl"

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    QINGQUN_DATA_DIR=/data \
    CACHE_DIR=/data/.wechaty

# A fixed uid/gid so a host directory mounted at /data can be chowned to match.
RUN groupadd --system --gid 10001 qingqun \
    && useradd --system --uid 10001 --gid qingqun --create-home --home-dir /home/qingqun \
        --shell /usr/sbin/nologin qingqun \
    && mkdir -p /data/.wechaty \
    && chown -R qingqun:qingqun /data

COPY --from=build /opt/venv /opt/venv

# Numeric, so runtimes can verify non-root (runAsNonRoot) without reading /etc/passwd.
USER 10001:10001
WORKDIR /data
# Declared after the chown so a fresh named volume starts out owned by qingqun.
VOLUME /data

# Exec form: qingqun is PID 1 and receives SIGTERM itself (it flushes activity and exits 0).
# Healthy: this instance's heartbeat is fresh and its account is logged in (or was, recently).
HEALTHCHECK --interval=60s --timeout=15s --start-period=120s --retries=3 CMD ["qingqun", "status", "--check"]
ENTRYPOINT ["qingqun"]
CMD ["run"]
