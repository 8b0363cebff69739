# batmux container image (docs/install.md, "Docker"). Multi-stage: the build stage resolves
# the locked dependencies into a venv, the runtime stage gets only that venv.
#   docker build -t batmux .
#   docker run -v batmux-data:/data -v /run/dbus/system_bus_socket:/run/dbus/system_bus_socket batmux
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_PROJECT_ENVIRONMENT=/opt/batmux \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /src
# Dependencies first (cached while only the source changes), then batmux itself.
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="batmux" \
      org.opencontainers.image.description="Battery gateway: BMS readers, banks, MQTT/Home Assistant, Venus OS, inverter emulation" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/batmux/batmux"
# uid 1000, in dialout for serial adapters. BlueZ is reached through the host's D-Bus socket;
# the host's D-Bus policy decides whether uid 1000 may talk to org.bluez (docs/install.md).
RUN groupadd --system --gid 1000 batmux \
    && useradd --system --uid 1000 --gid batmux --groups dialout --no-create-home \
       --home-dir /data batmux \
    && mkdir -p /data/state \
    && chown -R batmux:batmux /data
COPY --from=build /opt/batmux /opt/batmux
COPY --chmod=755 packaging/docker/entrypoint.sh /usr/local/bin/batmux-entrypoint
ENV PATH=/opt/batmux/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BATMUX_DATA=/data
USER 1000:1000
WORKDIR /data
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["batmux-entrypoint", "health"]
ENTRYPOINT ["batmux-entrypoint"]
CMD ["run"]
