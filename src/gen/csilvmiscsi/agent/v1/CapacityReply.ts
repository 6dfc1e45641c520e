// Original file: proto/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface CapacityReply {
  'available_bytes'?: (number | string | Long);
  'maximum_volume_bytes'?: (number | string | Long);
}

export interface CapacityReply__Output {
  'available_bytes': (string);
  'maximum_volume_bytes': (string);
}
