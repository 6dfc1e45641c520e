// Original file: proto/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface ExpandVolumeRequest {
  'vg'?: (string);
  'lv'?: (string);
  'size_bytes'?: (number | string | Long);
}

export interface ExpandVolumeRequest__Output {
  'vg': (string);
  'lv': (string);
  'size_bytes': (string);
}
