// Original file: proto/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface ExpandVolumeRequest {
  'vg'?: (string);
  'lv'?: (string);
  'required_bytes'?: (number | string | Long);
  'limit_bytes'?: (number | string | Long);
}

export interface ExpandVolumeRequest__Output {
  'vg': (string);
  'lv': (string);
  'required_bytes': (string);
  'limit_bytes': (string);
}
