// Original file: proto/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface Snapshot {
  'id'?: (string);
  'name'?: (string);
  'vg'?: (string);
  'lv'?: (string);
  'source_volume_id'?: (string);
  'size_bytes'?: (number | string | Long);
  'created_at_ms'?: (number | string | Long);
  'ready_to_use'?: (boolean);
  'lvm_type'?: (string);
}

export interface Snapshot__Output {
  'id': (string);
  'name': (string);
  'vg': (string);
  'lv': (string);
  'source_volume_id': (string);
  'size_bytes': (string);
  'created_at_ms': (string);
  'ready_to_use': (boolean);
  'lvm_type': (string);
}
