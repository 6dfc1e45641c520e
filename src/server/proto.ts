// Run-time loading of the CSI v1.12.0 protocol (proto/csi.proto).
//
// The options below MUST stay identical to the flags of the "gen-types"
// script in package.json (proto-loader-gen-types --keepCase --longs=String
// --enums=String --defaults --oneofs), otherwise the objects gRPC hands to
// the handlers would not match the generated types in src/gen/.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import type { ProtoGrpcType as AgentProto } from '../gen/agent.js';
import type { ProtoGrpcType } from '../gen/csi.js';

/**
 * proto-loader options shared by the run-time loader and gen-types.
 *
 * No `includeDirs` is needed: the imported well-known protos
 * (google/protobuf/descriptor.proto, timestamp.proto, wrappers.proto) are
 * bundled by protobufjs and registered by @grpc/proto-loader itself.
 */
export const LOADER_OPTIONS = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} satisfies protoLoader.Options);

/** File name of the CSI protocol inside {@link protoDir}. */
const CSI_PROTO_FILE = 'csi.proto';

/**
 * Absolute path of the repository's proto/ directory.
 *
 * This module lives at <repo>/src/server/proto.ts (vitest, tsx) or at
 * <repo>/dist/server/proto.js (compiled), two levels below the proto
 * directory's parent, or inside the bundle <repo>/dist/main.js
 * (scripts/bundle.mjs), one level below it.
 */
export function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = resolve(here, '..', 'proto');
  return existsSync(join(bundled, CSI_PROTO_FILE)) ? bundled : resolve(here, '..', '..', 'proto');
}

/** Absolute path of proto/csi.proto. */
export function csiProtoPath(): string {
  return join(protoDir(), CSI_PROTO_FILE);
}

/** Parses proto/csi.proto into a proto-loader package definition. */
export function loadCsiPackageDefinition(): protoLoader.PackageDefinition {
  const file = csiProtoPath();
  if (!existsSync(file)) {
    throw new Error(`CSI protocol definition not found at ${file}`);
  }
  return protoLoader.loadSync(file, { ...LOADER_OPTIONS });
}

let cached: ProtoGrpcType | undefined;

/**
 * Loads the CSI protocol and returns the typed gRPC package object:
 * `loadCsi().csi.v1.Identity.service` etc. The result is cached, since
 * parsing is synchronous and the definition never changes at run time.
 */
export function loadCsi(): ProtoGrpcType {
  if (cached === undefined) {
    cached = grpc.loadPackageDefinition(loadCsiPackageDefinition()) as unknown as ProtoGrpcType;
  }
  return cached;
}

let agentCached: AgentProto | undefined;

/** The storage agent's API (proto/agent.proto), loaded with the same options: `loadAgent().csilvmiscsi.agent.v1.Agent`. */
export function loadAgent(): AgentProto {
  if (agentCached === undefined) {
    const file = join(protoDir(), 'agent.proto');
    if (!existsSync(file)) throw new Error(`agent protocol definition not found at ${file}`);
    agentCached = grpc.loadPackageDefinition(
      protoLoader.loadSync(file, { ...LOADER_OPTIONS }),
    ) as unknown as AgentProto;
  }
  return agentCached;
}
