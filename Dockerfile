# csi-lvm-iscsi: one image for every mode (controller, agent, node, all).
# Build:  docker build -t csi-lvm-iscsi:0.1.0 .
# (Written and reviewed; no Docker engine runs on the development machines.)

# ---- build: compile TypeScript with the dev dependencies ----
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

# ---- runtime: Debian bookworm with the system tools the plugin runs ----
FROM debian:bookworm-slim
# Tools the code execs (test/unit/packaging/dockerfile.test.ts extracts them from src/ and checks
# that each one's package is installed here):
#   lvm2 (lvs, vgs, pvs, lvcreate, lvmconfig, ...), thin-provisioning-tools (thin_check, run by
#   lvm2 at thin-pool activation), open-iscsi (iscsiadm), tgt (tgtadm), multipath-tools
#   (multipath, multipathd), xfsprogs (mkfs.xfs, xfs_growfs, xfs_info, xfs_admin), e2fsprogs
#   (mkfs.ext4, resize2fs, dumpe2fs), mount (mount, umount, losetup), util-linux (findmnt, blkid,
#   blockdev, wipefs), coreutils (dd), udev (udevadm), kmod (modprobe).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates lvm2 thin-provisioning-tools open-iscsi tgt multipath-tools \
      xfsprogs e2fsprogs mount util-linux coreutils udev kmod \
 && rm -rf /var/lib/apt/lists/*
# Node.js runtime copied from the official image of the same major version.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production
WORKDIR /opt/csi-lvm-iscsi
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/proto ./proto
# --max-semi-space-size=1: V8's young generation in 1 MiB halves instead of 16: about 12 MB less
# resident memory for a process whose allocations are small and short-lived (docs/performance.md).
# --lite-mode: V8 without its optimizing compiler and with lazily allocated feedback: about 13 MB
# less resident memory; the plugin spends its time waiting on commands, and a hot loop (parsing an
# lvs report of 1,000 LVs) measured 1.5x slower, 1.8 -> 2.7 ms (docs/performance.md).
# The VM tier and the bench start the plugin with the same flags (test/vm/lib.ts reads them here).
ENTRYPOINT ["/usr/local/bin/node", "--max-semi-space-size=1", "--lite-mode", "/opt/csi-lvm-iscsi/dist/main.js"]
