# One image for every role: serve, worker, migrate, admin.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -o /out/paimeng ./cmd/paimeng

FROM node:20-bookworm-slim AS ort
WORKDIR /ort
RUN npm pack --silent onnxruntime-node@1.30.0 \
 && tar -xzf onnxruntime-node-1.30.0.tgz package/bin/napi-v6/linux/x64/libonnxruntime.so.1 \
 && echo "ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23  package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c -

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/paimeng /usr/local/bin/paimeng
COPY --from=ort /ort/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 /usr/local/lib/libonnxruntime.so.1
ENV PAIMENG_ORT_LIBRARY=/usr/local/lib/libonnxruntime.so.1 \
    PAIMENG_DATA_DIR=/data \
    PAIMENG_HTTP_ADDR=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["paimeng"]
CMD ["serve"]
