// Original file: proto/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface ThinPoolStatus {
  'name'?: (string);
  'size_bytes'?: (number | string | Long);
  'data_percent'?: (number | string);
  'metadata_percent'?: (number | string);
  'provisioned_bytes'?: (number | string | Long);
  'zeroing'?: (boolean);
  'health'?: (string);
}

export interface ThinPoolStatus__Output {
  'name': (string);
  'size_bytes': (string);
  'data_percent': (number);
  'metadata_percent': (number);
  'provisioned_bytes': (string);
  'zeroing': (boolean);
  'health': (string);
}
